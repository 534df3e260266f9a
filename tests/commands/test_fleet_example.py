"""examples/fleet.yaml as a new user runs it, through the real CLI against the
packaged emulator://fleet: waves, labels, `latest` resolved per Kubernetes minor,
label selectors on --cluster, and Markdown that shows an identical change once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "fleet.yaml"
SCENARIO = ROOT / "reconciler" / "emulator" / "scenarios" / "fleet.yaml"
WAVE_OF_ENV = {"staging": "canary", "prod": "prod", "dev": "rest"}


def run(tmp_path: Path, *args: str, example: Path = EXAMPLE) -> Result:
    # --state-dir in tmp_path also puts the emulator's state there (beside it),
    # so the repository's .reconciler/ is never touched.
    return CliRunner().invoke(
        cli, [args[0], str(example), *args[1:], "--state-dir", str(tmp_path / "state")],
        env={"NO_COLOR": "1"})


def plan_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = run(tmp_path, "plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def scenario_clusters() -> dict[str, dict[str, Any]]:
    scenario = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    return {c["name"]: c for c in scenario["clusters"]}


def test_every_cluster_has_its_labels_and_the_wave_its_env_puts_it_in(tmp_path: Path) -> None:
    data = plan_json(tmp_path)
    live = scenario_clusters()
    assert [c["name"] for c in data["clusters"]] == list(live)
    for cluster in data["clusters"]:
        # the file's labels are the scenario's (what its abnormal/failure rules select)
        assert cluster["labels"] == live[cluster["name"]]["labels"], cluster["name"]
        assert cluster["wave"] == WAVE_OF_ENV[cluster["labels"]["env"]], cluster["name"]
    rollout = data["rollout"]
    assert rollout["pause"] == "none"
    assert [(w["name"], w["clusters"], w["soak_s"], w["max_parallel"], w["max_failures"])
            for w in rollout["waves"]] == [
        ("canary", ["env=staging"], 20.0, None, 0),
        ("prod", ["env=prod"], 0.0, 4, 1),
        ("rest", [], 0.0, None, 0),
    ]
    assert data["errors"] == [] and all(c["errors"] == [] for c in data["clusters"])


def test_latest_resolves_per_kubernetes_minor(tmp_path: Path) -> None:
    data = plan_json(tmp_path)
    by_minor: dict[str, set[str]] = {}
    for cluster in data["clusters"]:
        autoscaler = next(ch for ch in cluster["changes"] if ch["addon"] == "autoscaler")
        assert autoscaler["version_constraint"] == "latest"
        assert autoscaler["action"] == ("update" if cluster["labels"]["env"] == "prod"
                                        else "install"), cluster["name"]
        by_minor.setdefault(cluster["kubernetes_version"], set()).add(
            autoscaler["after_version"])
        # "~1.3" stops at the newest metrics-server the minor supports
        metrics = next(ch for ch in cluster["changes"] if ch["addon"] == "metrics-server")
        assert metrics["version_constraint"] == "~1.3"
        assert metrics["after_version"] == (
            "1.3.60" if cluster["kubernetes_version"] == "v1.28" else "1.3.68")
    assert by_minor == {"v1.28": {"1.28.35"}, "v1.29": {"1.29.17"}, "v1.30": {"1.30.15"}}


def test_cluster_selector_plans_only_prod(tmp_path: Path) -> None:
    data = plan_json(tmp_path, "--cluster", "env=prod")
    names = [c["name"] for c in data["clusters"]]
    assert names == [n for n, c in scenario_clusters().items() if c["labels"]["env"] == "prod"]
    assert len(names) == 8 and {c["wave"] for c in data["clusters"]} == {"prod"}
    gold = plan_json(tmp_path, "--cluster", "env=prod,tier in (gold)")
    assert [c["name"] for c in gold["clusters"]] == [
        "fleet-prod-ap-1", "fleet-prod-eu-1", "fleet-prod-us-1"]


def test_markdown_shows_an_identical_change_once_with_its_clusters(tmp_path: Path) -> None:
    result = run(tmp_path, "plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    markdown = result.stdout
    # everest 2.4.7 → 2.4.28 is the same change on six prod clusters: one diff,
    # headed by the clusters it applies to, where JSON keeps all six.
    assert ("**On 6 clusters:** `fleet-prod-ap-1`, `fleet-prod-ap-2`, `fleet-prod-eu-1`, "
            "`fleet-prod-eu-2`, `fleet-prod-us-1`, `fleet-prod-us-2`") in markdown
    prod = markdown.split("#### Wave `prod`")[1].split("#### Wave `rest`")[0]
    assert prod.count('+ basic.driver_version: "2.4.28"') == 2   # from 2.4.7 and from 2.3.14
    data = plan_json(tmp_path)
    assert sum(1 for c in data["clusters"] if c["wave"] == "prod"
               for ch in c["changes"] if ch["addon"] == "everest"
               and ch["before_version"] == "2.4.7") == 6
    # the waves, in order, each with its clusters
    assert (markdown.index("#### Wave `canary` — 2 clusters")
            < markdown.index("#### Wave `prod` — 8 clusters")
            < markdown.index("#### Wave `rest` — 2 clusters"))


def changed_clusters(tmp_path: Path, example: Path = EXAMPLE) -> list[str]:
    result = run(tmp_path, "plan", "--format", "json", example=example)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return [c["name"] for c in data["clusters"]
            if any(ch["action"] != "no-op" for ch in c["changes"])]


@pytest.mark.slow
def test_apply_with_pause_goes_wave_by_wave_to_a_clean_fleet(tmp_path: Path) -> None:
    # about 40 s: the canary's 20 s soak is real time, the emulator 10x faster
    staging, prod, dev = ([n for n, c in scenario_clusters().items()
                           if c["labels"]["env"] == env] for env in ("staging", "prod", "dev"))
    statuses: list[dict[str, str]] = []
    for _ in range(3):
        result = run(tmp_path, "apply", "--auto-approve", "--pause", "--format", "json",
                     "--poll-interval", "0.05")
        assert result.exit_code == 0, result.output
        rollout = json.loads(result.stdout)["rollout"]
        statuses.append({w["name"]: w["status"] for w in rollout["waves"]})
        # after each run, exactly the waves that passed have nothing left to do
        left = changed_clusters(tmp_path)
        passed = [n for wave, names in (("canary", staging), ("prod", prod), ("rest", dev))
                  if statuses[-1][wave] == "passed" for n in names]
        assert not set(left) & set(passed)
        assert set(left) | set(passed) == set(staging + prod + dev)
    assert statuses == [
        {"canary": "passed", "prod": "not started", "rest": "not started"},
        {"canary": "passed", "prod": "passed", "rest": "not started"},
        {"canary": "passed", "prod": "passed", "rest": "passed"},
    ]
    assert changed_clusters(tmp_path) == []


def test_a_failing_install_halts_the_rollout_at_the_canary(tmp_path: Path) -> None:
    # What examples/fleet.yaml's comment suggests: the scenario fails nginx-ingress
    # 3.0.x installs on env=staging, so the canary halts before prod is touched.
    base = '        version: "~1.3"                        # newest 1.3.x the cluster supports\n'
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(base) == 1
    broken = tmp_path / "fleet.yaml"
    broken.write_text(text.replace(base, base + "      nginx-ingress: {version: 3.0.8}\n"))
    result = run(tmp_path, "apply", "--auto-approve", "--poll-interval", "0.05", example=broken)
    assert result.exit_code == 1, result.output
    assert "Rollout halted at wave canary: later waves were not started." in result.stdout
    for name in ("fleet-staging-ap", "fleet-staging-eu"):
        assert (f"- {name}/nginx-ingress: install failed: the add-on failed (status "
                "installFailed; Reason: InstallFailed; message: helm install failed: "
                "admission webhook nginx-ingress-admission is not ready)") in result.stdout
    assert "prod: not started (8 clusters)" in result.stdout
    assert "rest: not started (2 clusters)" in result.stdout
    # every prod and dev cluster still has all its changes to make
    untouched = [n for n, c in scenario_clusters().items() if c["labels"]["env"] != "staging"]
    assert set(untouched) <= set(changed_clusters(tmp_path, broken))
    # Nothing written for them: only the (empty) lock files the rollout held
    # for its whole run (docs/rollout.md, "One rollout at a time").
    written = [p for p in (tmp_path / "state").glob("fleet-prod-*") if p.suffix != ".lock"]
    assert written == []
    assert all(p.stat().st_size == 0 for p in (tmp_path / "state").glob("fleet-prod-*.lock"))
