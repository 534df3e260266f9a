"""``reconciler emulator serve --generate N --write-desired FILE``: a labelled
fleet on a real socket, and a desired-state file that plans with no changes
against it (issue 14's emulator part)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator import generate_scenario
from reconciler.emulator.fleet_file import desired_state_yaml
from reconciler.emulator.generate import HEADROOM, fleet_labels
from reconciler.emulator.scenario import Scenario
from reconciler.emulator.store import version_key

TOKEN = "demo-token-0504201b6c80256b2f08c0099f0c8fe4"
SECRET = "DEMOSKEMULATOR00000000000000000000000001"
PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"


def test_generated_labels_are_canaries_then_mostly_prod() -> None:
    labels = [fleet_labels(i, 100) for i in range(100)]
    envs = [entry["env"] for entry in labels]
    assert envs[:5] == ["staging"] * 5 and "staging" not in envs[5:]
    assert Counter(envs) == {"staging": 5, "prod": 86, "dev": 9}
    assert {entry["region"] for entry in labels} == {"ap", "eu", "us"}
    assert Counter(entry["tier"] for entry in labels) == {"gold": 25, "silver": 25, "bronze": 50}
    # At least one canary however small the fleet.
    assert [fleet_labels(i, 3)["env"] for i in range(3)] == ["staging", "prod", "prod"]


def test_labels_depend_on_position_not_seed() -> None:
    one, other = generate_scenario(30, seed=1), generate_scenario(30, seed=2)
    assert [c.labels for c in one.clusters] == [c.labels for c in other.clusters]
    assert [c.id for c in one.clusters] != [c.id for c in other.clusters]
    assert one.clusters[0].labels == {"env": "staging", "region": "ap", "tier": "gold"}


def test_generated_everest_leaves_headroom_to_roll_out() -> None:
    """everest runs one version below the newest each cluster supports (so an
    edit has something to roll out); every other add-on runs the newest."""
    scenario = generate_scenario(30, seed=5)
    templates = {t.name: t for t in scenario.templates}
    minors = {c.id: c for c in scenario.clusters}
    assert {c.version for c in scenario.clusters} == {"v1.28", "v1.29", "v1.30"}
    for seed in scenario.instances:
        cluster = minors[seed.cluster_id]
        supporting = sorted((v.version for v in templates[seed.template].versions
                             if v.supports(cluster.type, cluster.category, cluster.version)),
                            key=version_key)
        back = 2 if seed.template in HEADROOM else 1
        assert seed.version == supporting[-back], (cluster.version, seed)
    assert {s.version for s in scenario.instances if s.template == "everest"} == {"2.4.7"}


def _written(scenario: Scenario, running: dict[str, list[tuple[str, str]]]) -> Any:
    return yaml.safe_load(desired_state_yaml(
        scenario.clusters, running, endpoint="http://127.0.0.1:1", project_id=PROJECT,
        region="ap-southeast-1", templates=scenario.templates))


def _running(scenario: Scenario) -> dict[str, list[tuple[str, str]]]:
    running: dict[str, list[tuple[str, str]]] = {}
    for seed in scenario.instances:
        running.setdefault(seed.cluster_id, []).append((seed.template, seed.version))
    return running


def test_the_profile_holds_only_what_every_cluster_runs_alike() -> None:
    """A profile's add-on is declared on every cluster using it: an add-on one
    cluster lacks, or runs at another version than the rest (and not its
    newest), stays per cluster, pinned as it runs."""
    scenario = generate_scenario(6, addons_per_cluster=3, seed=1)
    running = _running(scenario)
    first, second = scenario.clusters[0], scenario.clusters[1]
    running[first.id] = [(t, v) for t, v in running[first.id] if t != "coredns"]
    running[second.id] = [(t, "2.3.14" if t == "everest" else v) for t, v in running[second.id]]
    doc = _written(scenario, running)
    assert doc["profiles"] == {"base": {"addons": {"metrics-server": {"version": "latest"}}}}
    assert doc["clusters"][first.name]["addons"] == {"everest": {"version": "2.4.7"}}
    assert doc["clusters"][second.name]["addons"] == {
        "coredns": {"version": "1.30.33"}, "everest": {"version": "2.3.14"}}
    # Without the templates, `latest` cannot be told: pinned per cluster instead.
    bare = yaml.safe_load(desired_state_yaml(
        scenario.clusters, _running(scenario), endpoint="http://127.0.0.1:1",
        project_id=PROJECT, region="ap-southeast-1"))
    assert bare["profiles"]["base"]["addons"] == {"coredns": {"version": "1.30.33"},
                                                  "everest": {"version": "2.4.7"}}
    assert set(bare["clusters"][first.name]["addons"]) == {"metrics-server"}
    # A fleet running nothing alike has no profile at all.
    nothing = _written(scenario, {c.id: [] for c in scenario.clusters})
    assert "profiles" not in nothing
    assert nothing["clusters"][first.name] == {"cluster_id": first.id,
                                               "labels": dict(first.labels)}


@contextmanager
def _serving(*flags: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``reconciler emulator serve FLAGS`` in a child process; its banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].lstrip().startswith("reconciler plan"):
            line = proc.stdout.readline()
            assert line, "serve ended early:\n" + "".join(banner)
            banner.append(line.rstrip("\n"))
        yield proc, banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _plan(path: Path, state_dir: Path, endpoint: str) -> Any:
    """``reconciler plan`` as the banner says: the token exported, the endpoint allowed."""
    return CliRunner().invoke(
        cli, ["plan", str(path), "--state-dir", str(state_dir), "--format", "json"],
        env={"HW_AUTH_TOKEN": TOKEN, "HW_ACCESS_KEY": "", "HW_SECRET_KEY": "",
             "CLOUD_SDK_AK": "", "CLOUD_SDK_SK": "", "NO_COLOR": "1",
             "RECONCILER_ALLOWED_ENDPOINTS": endpoint},
        catch_exceptions=False)


def test_serve_generate_writes_a_desired_file_that_plans_with_no_changes(tmp_path: Path) -> None:
    desired = tmp_path / "fleet" / "fleet.yaml"
    with _serving("--generate", "12", "--seed", "3", "--port", "0",
                  "--write-desired", str(desired)) as (proc, banner):
        # The real port of --port 0, in the banner and in the file.
        first = banner[0]
        assert first.startswith("CCE emulator on http://127.0.0.1:"), banner
        port = int(first.split("http://127.0.0.1:")[1].split()[0])
        assert port > 0
        text = desired.read_text(encoding="utf-8")
        assert f"export HW_AUTH_TOKEN={TOKEN}" in "\n".join(banner)
        endpoint = f"http://127.0.0.1:{port}"
        assert f"export RECONCILER_ALLOWED_ENDPOINTS={endpoint}" in banner[-2]
        assert f"reconciler plan {desired}" in banner[-1]
        assert proc.stdout is not None
        assert proc.stdout.readline().rstrip() == (
            f"  roll out   : set everest to 2.4.28 (from 2.4.7) under profiles.base in {desired},"
            f" then reconciler apply {desired}")

        # No credential in the file: it says where they come from instead.
        assert TOKEN not in text and SECRET not in text and "DEMOAK" not in text
        doc = yaml.safe_load(text)
        assert doc["defaults"] == {"region": "ap-southeast-1", "project_id": PROJECT,
                                   "endpoint": f"http://127.0.0.1:{port}"}
        # The rollout syntax, to the letter.
        assert doc["rollout"] == {
            "waves": [
                {"name": "canary", "clusters": ["env=staging"], "soak": "30s"},
                {"name": "prod", "clusters": ["env=prod"], "max_parallel": 5,
                 "max_failures": 1},
                {"name": "rest"},
            ],
            "pause": "none",
        }
        scenario = generate_scenario(12, seed=3)
        assert list(doc["clusters"]) == [c.name for c in scenario.clusters]
        # What every cluster runs alike is one profile: pinned where the
        # version is the same everywhere, `latest` where it is each cluster's
        # newest (a version per Kubernetes minor); so no cluster lists any.
        assert doc["profiles"] == {"base": {"addons": {
            "autoscaler": {"version": "latest"}, "coredns": {"version": "1.30.33"},
            "everest": {"version": "2.4.7"}, "gpu-beta": {"version": "latest"},
            "metrics-server": {"version": "latest"}, "nginx-ingress": {"version": "3.0.8"},
            "npd": {"version": "latest"}, "volcano": {"version": "latest"}}}}
        for cluster in scenario.clusters:
            entry = doc["clusters"][cluster.name]
            assert entry == {"cluster_id": cluster.id, "labels": dict(cluster.labels),
                             "profiles": ["base"]}
        assert "      everest: {version: 2.4.7}\n" in text  # the one line to edit
        assert doc["clusters"]["bench-00000"]["labels"]["env"] == "staging"

        # Plan against the live server: what the file declares is what runs.
        by_id = {c.id: c.name for c in scenario.clusters}
        full = _plan(desired, tmp_path / "state", endpoint)
        assert full.exit_code == 0, full.output
        plan = _assert_no_changes(full.stdout, len(scenario.instances))
        waves = {c["name"]: c["wave"] for c in plan["clusters"]}
        assert waves["bench-00000"] == "canary" and waves["bench-00001"] == "prod"
        resolved = {(c["name"], ch["addon"]): ch["after_version"]
                    for c in plan["clusters"] for ch in c["changes"]}
        assert resolved == {(by_id[s.cluster_id], s.template): s.version
                            for s in scenario.instances}

        # One line of the profile upgrades everest on every cluster, by wave.
        desired.write_text(text.replace("everest: {version: 2.4.7}",
                                        "everest: {version: 2.4.28}"), encoding="utf-8")
        edited = _plan(desired, tmp_path / "state", endpoint)
        assert edited.exit_code == 0, edited.output
        upgraded = json.loads(edited.stdout)
        assert upgraded["summary"]["upgrade"] == len(scenario.clusters)
        assert {(c["name"], c["wave"]) for c in upgraded["clusters"]
                for ch in c["changes"] if ch["action"] == "upgrade"} == {
            (name, waves[name]) for name in by_id.values()}
        assert {ch["before_version"] + " → " + ch["after_version"]
                for c in upgraded["clusters"] for ch in c["changes"]
                if ch["action"] == "upgrade"} == {"2.4.7 → 2.4.28"}


def _assert_no_changes(stdout: str, instances: int) -> dict[str, Any]:
    """Every running add-on is declared as it runs: nothing but adopts (a first
    plan has no state yet) whose values already match."""
    plan: dict[str, Any] = json.loads(stdout)
    summary = plan["summary"]
    assert [summary.get(a, 0) for a in ("install", "upgrade", "update", "delete")] == [0] * 4
    assert summary["adopt"] == instances, summary
    return plan


def _serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_generate_and_scenario_are_exclusive(tmp_path: Path) -> None:
    desired = tmp_path / "fleet.yaml"
    code, output = _serve("--generate", "5", "--scenario", "examples/scenarios/minimal.yaml",
                          "--write-desired", str(desired))
    assert code == 1, output
    assert "--generate and --scenario are exclusive" in output and "Traceback" not in output
    assert not desired.exists()


def test_write_desired_and_seed_need_generate(tmp_path: Path) -> None:
    desired = tmp_path / "fleet.yaml"
    for flags in (["--write-desired", str(desired)], ["--seed", "4"]):
        code, output = _serve(*flags)
        assert code == 1, output
        assert "go with --generate N" in output and "CCE emulator on" not in output
    assert not desired.exists()


def test_generate_counts_are_checked(tmp_path: Path) -> None:
    code, output = _serve("--generate", "0")
    assert code == 1 and "--generate" in output and "CCE emulator on" not in output


def test_serve_rereads_its_rules_file_and_keeps_the_fleet(tmp_path: Path) -> None:
    """Through the command: a rule selected by label fails an upgrade; the
    file is edited while the server runs; the retry succeeds on the same
    instance (nothing was reset)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("failure_rules:\n  - template: everest\n    operation: upgrade\n"
                     "    cluster_labels: env=prod\n    message: bad everest\n",
                     encoding="utf-8")
    with _serving("--generate", "4", "--port", "0", "--time-scale", "1000", "--rules",
                  str(rules), "--write-desired", str(tmp_path / "fleet.yaml")) as (_, banner):
        assert f"  rules      : {rules} (re-read when it changes)" in banner
        url = banner[0].split()[3]
        doc = yaml.safe_load((tmp_path / "fleet.yaml").read_text(encoding="utf-8"))
        prod = doc["clusters"]["bench-00001"]
        assert prod["labels"]["env"] == "prod"
        with httpx.Client(base_url=url, headers={"X-Auth-Token": TOKEN}) as http:
            def everest() -> dict[str, Any]:
                items = http.get("/api/v3/addons",
                                 params={"cluster_id": prod["cluster_id"]}).json()["items"]
                found: dict[str, Any] = next(
                    i for i in items if i["spec"]["addonTemplateName"] == "everest")
                return found

            def upgrade(inst: dict[str, Any]) -> None:
                body = {"kind": "Addon", "apiVersion": "v3", "metadata": {},
                        "spec": {"clusterID": prod["cluster_id"], "version": "2.4.28",
                                 "addonTemplateName": "everest",
                                 "values": inst["spec"]["values"]}}
                answer = http.put(f"/api/v3/addons/{inst['metadata']['uid']}", json=body)
                assert answer.status_code == 200, answer.text

            def settled() -> dict[str, Any]:
                deadline = time.monotonic() + 10
                while (inst := everest())["status"]["status"] == "upgrading":
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                return inst

            first = everest()
            upgrade(first)
            failed = settled()
            assert (failed["status"]["status"], failed["status"]["message"]) == (
                "upgradeFailed", "bad everest")
            rules.write_text("failure_rules: []\n", encoding="utf-8")
            upgrade(failed)
            fixed = settled()
            assert fixed["status"]["status"] == "running"
            assert fixed["metadata"]["uid"] == first["metadata"]["uid"]


def test_a_port_in_use_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    desired = tmp_path / "fleet.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(port),
                                          "--generate", "3", "--write-desired", str(desired)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0], result.output
    assert not desired.exists()


def test_a_missing_rules_file_says_to_create_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    code, output = _serve("--generate", "3", "--rules", str(rules))
    assert code == 1 and "CCE emulator on" not in output, output
    assert (f"Invalid value for --rules: {rules} does not exist; create it first (an empty file"
            " holds no rules yet: it is re-read whenever it changes)") in output


def test_apply_with_pause_shows_the_plan_as_it_will_run(tmp_path: Path) -> None:
    """``--pause`` overrides the file's ``pause: none``: the plan apply shows
    says so, and the run stops after the canary."""
    desired = tmp_path / "fleet.yaml"
    with _serving("--generate", "3", "--port", "0", "--time-scale", "1000",
                  "--write-desired", str(desired)) as (_, banner):
        endpoint = banner[0].split()[3]
        desired.write_text(desired.read_text(encoding="utf-8").replace(
            "everest: {version: 2.4.7}", "everest: {version: 2.4.28}").replace(
            "soak: 30s", "soak: 0s"), encoding="utf-8")
        done = CliRunner().invoke(
            cli, ["apply", str(desired), "--state-dir", str(tmp_path / "state"),
                  "--auto-approve", "--pause", "--poll-interval", "0.05",
                  "--allow-endpoint", endpoint],
            env={"HW_AUTH_TOKEN": TOKEN, "HW_ACCESS_KEY": "", "HW_SECRET_KEY": "",
                 "CLOUD_SDK_AK": "", "CLOUD_SDK_SK": "", "NO_COLOR": "1"},
            catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("Rollout in 3 waves, pause: manual (apply stops after each"
                                  " wave that passes its gate)\n"), done.stdout
    assert "Wave canary passed; rollout paused before wave prod." in done.stdout
