"""examples/ci: the files parse, the alert rules use metrics drift really
writes, and every reconciler command in them runs as written (paths mapped to
a test directory) against emulator://demo: plan --out, apply of the saved
plan, drift --output."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli import cli
from reconciler.views.driftprom import METRICS

CI = Path(__file__).parents[2] / "examples" / "ci"
LABELS = {"cluster", "addon", "kind", "risk", "level"}
DESIRED = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      coredns: {}
      everest: {}
      metrics-server: {}
      volcano: {}
"""


def load(name: str) -> Any:
    return yaml.safe_load((CI / name).read_text(encoding="utf-8"))


def invocations(script: str) -> Iterator[list[str]]:
    """Each ``reconciler …`` command of a shell script, as its argument list."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            # only in command position: first on the line or after ; && || |
            if token == "reconciler" and (i == 0 or _is_operator(tokens[i - 1])):
                args = []
                for t in tokens[i + 1:]:
                    if _is_operator(t):
                        break
                    args.append(t)
                yield args


def _is_operator(token: str) -> bool:
    return bool(token) and set(token) <= set(";&|<>()")


def run(args: list[str], mapping: Mapping[str, str]) -> Any:
    mapped = [mapping.get(a, a) for a in args]
    return CliRunner().invoke(cli, mapped, env={"NO_COLOR": "1"}, catch_exceptions=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desired.yaml").write_text(DESIRED, encoding="utf-8")
    (tmp_path / "vars.yaml").write_text("unused: 1\n", encoding="utf-8")
    return tmp_path


def test_alert_rules_use_only_metrics_and_labels_drift_writes() -> None:
    rules = [r for g in load("alerts.yaml")["groups"] for r in g["rules"]]
    assert len(rules) >= 5
    used = set()
    for rule in rules:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        used |= set(re.findall(r"\breconciler_\w+", rule["expr"]))
        for group in re.findall(r"by \(([^)]*)\)", rule["expr"]):
            assert {g.strip() for g in group.split(",")} <= LABELS, rule["alert"]
        assert set(re.findall(r"\$labels\.(\w+)", str(rule["annotations"]))) <= LABELS
    assert used <= set(METRICS)
    assert {"reconciler_addon_drift", "reconciler_addon_healthy", "reconciler_drift_success",
            "reconciler_drift_last_run_timestamp_seconds"} <= used


def test_github_workflow_plans_on_pull_requests_and_applies_the_reviewed_plan(
        workdir: Path) -> None:
    workflow = load("github-actions.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"]["branches"] == ["main"]
    plan_steps, apply_steps = workflow["jobs"]["plan"]["steps"], workflow["jobs"]["apply"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in plan_steps + apply_steps]
    assert {"actions/upload-artifact", "actions/download-artifact",
            "actions/github-script"} <= set(uses)
    comment = next(s for s in plan_steps if "github-script" in s.get("uses", ""))
    assert "updateComment" in comment["with"]["script"]
    assert "<!-- reconciler-plan -->" in comment["with"]["script"]

    # A pinned reconciler, never "whatever is newest" (nor the config repository itself).
    pin = workflow["env"]["RECONCILER_PIP"]
    pinned = r"reconciler(==[\d.]+| @ git\+https://\S+@(v[\d.]+|[0-9a-f]{40}))"
    assert re.fullmatch(pinned, pin), pin
    installs = [s["run"] for s in plan_steps + apply_steps if "pip install" in s.get("run", "")]
    assert installs == ['pip install "$RECONCILER_PIP"'] * 2

    # The jobs share a remote state; here (no RECONCILER_STATE) the local default stands in.
    assert workflow["env"]["RECONCILER_STATE"].startswith("s3://")
    assert "--state-dir" not in str(workflow) and "git push" not in str(workflow)
    mapping = {"$DESIRED": "desired.yaml", "$VAR_FILE": "vars.yaml"}
    (plan_cmd,) = [c for s in plan_steps for c in invocations(s.get("run", ""))]
    (apply_cmd,) = [c for s in apply_steps for c in invocations(s.get("run", ""))]
    assert "--precheck" in plan_cmd
    planned = run(plan_cmd, mapping)
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.startswith("### Plan: 0 to install")
    artifact = next(s for s in plan_steps if "upload-artifact" in s.get("uses", ""))
    saved = workdir / artifact["with"]["path"]
    assert json.loads(saved.read_text(encoding="utf-8"))["clusters"][0]["name"] == "demo-staging"

    # The merge job notifies the team's webhook, named by the operator's secrets.
    apply_env = next(s for s in apply_steps if "reconciler apply" in s.get("run", ""))["env"]
    assert apply_env["RECONCILER_NOTIFY"] == "${{ secrets.RECONCILER_NOTIFY }}"
    assert "RECONCILER_NOTIFY_HMAC_KEY" in apply_env
    applied = run(apply_cmd, mapping)
    assert applied.exit_code == 0, applied.output
    assert (workdir / ".reconciler" / "state" / "demo-staging.json").is_file()


def test_crontab_and_cronjob_write_the_metrics_file(workdir: Path) -> None:
    run(["apply", "desired.yaml", "--auto-approve"], {})
    lines = [ln for ln in (CI / "crontab").read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#") and "=" not in ln.split()[0]]
    (entry,) = lines
    fields = entry.split(None, 5)
    assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), fields
    (cron_cmd,) = invocations(fields[5])

    job = load("cronjob.yaml")
    assert job["kind"] == "CronJob" and job["apiVersion"] == "batch/v1"
    assert len(job["spec"]["schedule"].split()) == 5
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (job_cmd,) = invocations(container["args"][0])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    output = job_cmd[job_cmd.index("--output") + 1]
    assert Path(output).parent == Path(mounts["textfile"])
    assert {v["name"] for v in pod["volumes"]} == set(mounts)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RECONCILER_STATE"].startswith("s3://") and "state" not in mounts

    for cmd, out in ((cron_cmd, "cron.prom"), (job_cmd, "job.prom")):
        assert cmd[:1] == ["drift"] and "prometheus" in cmd
        assert cmd[cmd.index("--notify-repeat") + 1] == "24h"
        target = cmd[cmd.index("--output") + 1]
        files = [a for a in cmd[1:] if not a.startswith("-")][:1]
        mapping = {files[0]: "desired.yaml", target: out,
                   cmd[cmd.index("--var-file") + 1]: "vars.yaml"}
        if "--state-dir" in cmd:  # the crontab runs on the host that applies
            mapping[cmd[cmd.index("--state-dir") + 1]] = ".reconciler/state"
        result = run(cmd, mapping)
        assert result.exit_code == 0, result.output
        names = {f.name for f in text_string_to_metric_families(
            (workdir / out).read_text(encoding="utf-8"))}
        assert "reconciler_drift_last_run_timestamp_seconds" in names


def _shape(value: Any) -> Any:
    """Keys of nested objects (first list element stands for the list)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list) and value:
        return [_shape(value[0])]
    return None


def test_documented_json_report_has_the_real_shape(workdir: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "drift.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))  # type: ignore[union-attr]
    run(["apply", "desired.yaml", "--auto-approve", "--state-dir", "state"], {})
    (workdir / "desired.yaml").write_text(
        DESIRED.replace("volcano: {}", "volcano: {version: 1.15.8}"), encoding="utf-8")
    real = json.loads(run(["drift", "desired.yaml", "--format", "json", "--state-dir", "state"],
                          {}).stdout)
    doc_addon = example["clusters"][0]["addons"][0]
    real_addon = next(a for a in real["clusters"][0]["addons"] if a["addon"] == "volcano")
    real_addon["changed_outside"]["values"] = doc_addon["changed_outside"]["values"]
    assert set(example) == set(real)
    assert set(example["summary"]) == set(real["summary"])
    assert set(example["clusters"][0]) == set(real["clusters"][0])
    assert _shape(doc_addon) == _shape(real_addon)
    assert example["format_version"] == real["format_version"]


def _cronjob_container() -> tuple[dict[str, Any], dict[str, Any]]:
    pod = load("cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_cronjob_runs_as_non_root_and_writes_only_its_own_dirs() -> None:
    pod, container = _cronjob_container()
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["name"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"textfile", "tmp"}
    assert "emptyDir" in volumes["tmp"]
    env = {e["name"]: e["value"] for e in container["env"]}
    tmp = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "tmp")
    assert env["HOME"] == env["TMPDIR"] == tmp


@pytest.mark.parametrize(("edit", "expected"), [
    ("", 0),                                                   # clean
    ("volcano", 0),                                            # drift (2) is a success
    ("--format prometheus", 1),                                # a typo'd flag fails the job
])
def test_cronjob_script_fails_the_job_on_errors_only(workdir: Path, edit: str,
                                                      expected: int) -> None:
    """The container's real shell script, run by sh with the real reconciler."""
    run(["apply", "desired.yaml", "--auto-approve", "--state-dir", "state"], {})
    _, container = _cronjob_container()
    script = container["args"][0]
    (cmd,) = invocations(script)
    for arg, local in ((cmd[1], "desired.yaml"), (cmd[cmd.index("--var-file") + 1], "vars.yaml"),
                       (cmd[cmd.index("--output") + 1], "job.prom")):
        script = script.replace(arg, local)
    if edit == "volcano":
        (workdir / "desired.yaml").write_text(
            DESIRED.replace("volcano: {}", "volcano: {version: 1.15.8}"), encoding="utf-8")
    elif edit:
        script = script.replace(edit, "--formt prometheus")
        assert "--formt" in script
    bindir = str(Path(sys.executable).parent)
    # The job's remote RECONCILER_STATE; here the local state the apply above wrote.
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "NO_COLOR": "1", "RECONCILER_STATE": "state"}
    done = subprocess.run(["/bin/sh", "-c", script], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == expected, done.stderr
    if expected == 0:
        prom = (workdir / "job.prom").read_text(encoding="utf-8")
        drifted = 'reconciler_cluster_drifted{cluster="demo-staging"} 1'
        assert (drifted in prom) == (edit == "volcano"), prom
    else:
        assert "--formt" in done.stderr


def test_github_workflow_fails_the_plan_job_on_a_change_the_precheck_blocks(
        workdir: Path) -> None:
    """The workflow says a blocking precheck risk fails the job: the plan command
    exits 1 on demo-prod's Fatal coredns risk, and that exit fails the job."""
    workflow = load("github-actions.yml")
    plan_steps = workflow["jobs"]["plan"]["steps"]
    (plan_cmd,) = [c for s in plan_steps for c in invocations(s.get("run", ""))]
    failing = next(s for s in plan_steps if s.get("name") == "Fail on plan errors")
    assert failing["if"] == "steps.plan.outputs.exitcode != '0'" and failing["run"] == "exit 1"
    (workdir / "desired.yaml").write_text(
        DESIRED.replace("demo-staging:", "demo-prod:")
        .replace("7c1f5a2e-4368-11f0-ba56-0255ac100037", "6b400e1c-4368-11f0-ba56-0255ac100037")
        .replace("coredns: {}", "coredns: {version: 1.30.33}"), encoding="utf-8")
    planned = run(plan_cmd, {"$DESIRED": "desired.yaml", "$VAR_FILE": "vars.yaml"})
    assert planned.exit_code == 1, planned.output
    assert "demo-prod/coredns: AddonValidate (Fatal)" in planned.stderr
    assert "blocked by precheck" in planned.stdout  # the comment still shows the plan
