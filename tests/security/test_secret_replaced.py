"""A pull request that drops ``secret()`` must not print the secret still running.

``upstream_nameservers: ["{{ secret('DNS_TOKEN') }}"]`` is applied; the state
remembers the path as sensitive. A PR replaces the call by ``10.0.0.1`` and
the secret is no longer in the environment (the redactor does not know it):
plan (text, Markdown, JSON, saved and shown), drift (every format) and state
must still hide the old value, whatever the files now say (``not_sensitive:``
included), until the operator clears the path with ``state unmark-sensitive``.
(What ``-vv`` logs is the log masking's to test.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

SECRET = "hunter2-SECRETMARK"
PATH = "custom.upstream_nameservers[0]"
CLUSTER_ID = "7c1f5a2e-4368-11f0-ba56-0255ac100037"  # demo-staging of emulator://demo

DESIRED = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: {cluster_id}
    addons:
      coredns:
        version: 1.30.33
        flavor: "2500"
{extra}        values:
          custom:
            upstream_nameservers: [{value}]
"""

EMULATOR_STORE = Path(".reconciler/emulator/demo.json")
"""Plays the cloud: it holds what apply sent, the secret included, as CCE would."""


def write(directory: Path, value: str, extra: str = "") -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "desired.yaml"
    path.write_text(DESIRED.format(cluster_id=CLUSTER_ID, value=value, extra=extra),
                    encoding="utf-8")
    return str(path)


def run(*args: str, allowed: tuple[int, ...] = (0, 2)) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code in allowed, result.output
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert "hunter2" not in text, f"`reconciler {' '.join(args)}` {name} leaks:\n{text}"
    return result


def assert_no_file_leaks(root: Path) -> int:
    files = [p for p in root.rglob("*") if p.is_file() and p != root / EMULATOR_STORE]
    for path in files:
        assert b"hunter2" not in path.read_bytes(), f"{path} leaks the old secret"
    return len(files)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("DNS_TOKEN", SECRET)
    monkeypatch.setenv("RECONCILER_ALLOW_ENV", "DNS_TOKEN")  # the operator's allowance
    v1 = write(tmp_path / "v1", "\"{{ secret('DNS_TOKEN') }}\"")
    applied = CliRunner().invoke(cli, ["apply", v1, "--auto-approve"], catch_exceptions=False)
    assert applied.exit_code == 0, applied.output
    monkeypatch.delenv("DNS_TOKEN")
    return cwd


@pytest.mark.slow
@pytest.mark.parametrize("extra", ["", "        not_sensitive: [custom.upstream_nameservers]\n"],
                         ids=["literal", "literal-and-not_sensitive"])
def test_a_pr_replacing_secret_by_a_literal_prints_no_old_value(
        work: Path, tmp_path: Path, extra: str) -> None:
    pr = write(tmp_path / "pr", "10.0.0.1", extra)
    text = run("plan", pr, "--no-color").stdout
    assert f"~ {PATH}: (sensitive)" in text  # the change is still shown, as a change
    markdown = run("plan", pr, "--format", "markdown").stdout
    assert PATH in markdown and "(sensitive)" in markdown
    plan = json.loads(run("plan", pr, "--format", "json", "--out", "pr.plan.json").stdout)
    [change] = [c for c in plan["clusters"][0]["changes"] if c["addon"] == "coredns"]
    [field] = [f for f in change["field_changes"] if f["path"] == PATH]
    assert field == {"path": PATH, "kind": "changed", "sensitive": True}
    assert PATH in change["sensitive_paths"]
    for fmt in ("text", "markdown", "json"):
        run("show", "pr.plan.json", "--format", fmt)
    for fmt in ("text", "markdown", "json", "prometheus"):
        drift = run("drift", pr, "--format", fmt, "--output", f"drift.{fmt}", allowed=(2,))
        assert "hunter2" not in drift.output
    assert assert_no_file_leaks(work) >= 6


@pytest.mark.slow
def test_the_path_stays_remembered_after_apply_until_unmarked(
        work: Path, tmp_path: Path) -> None:
    pr = write(tmp_path / "pr", "10.0.0.1")
    run("plan", pr, "--out", "pr.plan.json")
    applied = run("apply", "pr.plan.json", allowed=(0,))
    assert "hunter2" not in applied.output
    state = json.loads(run("state", "show", "demo-staging", "--json").stdout)
    assert PATH in state["addons"]["coredns"]["sensitive_paths"]
    assert run("plan", pr, "--detailed-exitcode", allowed=(0,)).exit_code == 0

    refused = run("state", "unmark-sensitive", "demo-staging", "coredns", "custom.nope",
                  allowed=(1,))
    assert "no sensitive path at or under 'custom.nope'" in refused.output
    assert PATH in refused.output
    cleared = run("state", "unmark-sensitive", "demo-staging", "coredns",
                  "custom.upstream_nameservers")
    assert f"no longer sensitive: {PATH}" in cleared.stdout
    state = json.loads(run("state", "show", "demo-staging", "--json").stdout)
    assert PATH not in state["addons"]["coredns"]["sensitive_paths"]
    journal = Path(".reconciler/state/demo-staging.journal.jsonl").read_text(encoding="utf-8")
    last = json.loads(journal.splitlines()[-1])
    assert last["action"] == "state unmark-sensitive" and last["paths"] == [PATH]
    # The next apply records the (now public) value in clear, and then all is quiet.
    run("apply", pr, "--auto-approve", allowed=(0,))
    state = json.loads(run("state", "show", "demo-staging", "--json").stdout)
    assert state["addons"]["coredns"]["values"]["custom"]["upstream_nameservers"] == ["10.0.0.1"]
    assert run("drift", pr, allowed=(0,)).exit_code == 0
    assert_no_file_leaks(work)
