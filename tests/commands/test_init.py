"""``reconciler init``: a generated fleet with hand-made differences, served on a
socket → init → plan (adoptions only) → apply (state only) → plan and drift
clean; the secret's value in no file; a second init shows a diff and writes
nothing without --force (issue 23)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator, generate_scenario
from reconciler.emulator.scenario import InstanceSeed, Scenario
from tests.conftest import FakeClock, serve_emulator

TOKEN = "demo-token-0504201b6c80256b2f08c0099f0c8fe4"
PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"
REGION = "ap-southeast-1"
PASSWORD = "hunter2-live-only-Qx7"
SECRET_VAR = "BENCH_00007_AUTOSCALER_CUSTOM_ADMIN_PASSWORD"


def _edited_fleet() -> Scenario:
    """20 generated clusters running five add-ons each, then edited by hand:
    bench-00003's coredns has other values, bench-00004 runs an older everest,
    bench-00005 an extra add-on (volcano) and bench-00007's autoscaler a
    password."""
    base = generate_scenario(20, addons_per_cluster=5, seed=7)
    names = {c.id: c.name for c in base.clusters}
    seeds: list[InstanceSeed] = []
    for seed in base.instances:
        name = names[seed.cluster_id]
        if name == "bench-00003" and seed.template == "coredns":
            custom = {**_map(seed.values["custom"]), "upstream_nameservers": ["10.9.9.9"]}
            seed = dataclasses.replace(seed, values={**seed.values, "custom": custom})
        elif name == "bench-00004" and seed.template == "everest":
            seed = dataclasses.replace(seed, version="2.3.14")
        elif name == "bench-00007" and seed.template == "autoscaler":
            custom = {**_map(seed.values["custom"]), "admin_password": PASSWORD}
            seed = dataclasses.replace(seed, values={**seed.values, "custom": custom})
        seeds.append(seed)
    volcano = next(t for t in base.templates if t.name == "volcano")
    fifth = next(c for c in base.clusters if c.name == "bench-00005")
    version = max((v for v in volcano.versions
                   if v.supports(fifth.type, fifth.category, fifth.version)),
                  key=lambda v: [int(p) for p in v.version.split(".")])
    from reconciler.emulator.scenario import default_values
    seeds.append(InstanceSeed(id="4f5a1c2e-0000-4000-8000-000000000005",
                              cluster_id=fifth.id, template="volcano",
                              version=version.version, values=default_values(version)))
    return dataclasses.replace(base, instances=tuple(seeds))


def _map(value: Any) -> dict[str, Any]:
    assert isinstance(value, Mapping)
    return dict(value)


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Emulator]]:
    emulator = Emulator(_edited_fleet(), clock=FakeClock())
    with serve_emulator(emulator) as url:
        # What the operator allows: the socket the written file names, and the
        # secret() variables init's comments say to allow.
        monkeypatch.setenv("RECONCILER_ALLOWED_ENDPOINTS", url)
        monkeypatch.setenv("RECONCILER_ALLOW_ENV", "BENCH_*")
        yield url, emulator


def _env(**extra: str) -> dict[str, str]:
    return {"HW_AUTH_TOKEN": TOKEN, "HW_ACCESS_KEY": "", "HW_SECRET_KEY": "",
            "CLOUD_SDK_AK": "", "CLOUD_SDK_SK": "", "HW_PROJECT_ID": "", "NO_COLOR": "1",
            **extra}


def _run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=_env(**env), catch_exceptions=False)


def _init(url: str, out: Path, *more: str) -> Result:
    return _run("init", "--endpoint", url, "--region", REGION, "--project-id", PROJECT,
                "--out", str(out), *more)


def _live(emulator: Emulator) -> dict[str, tuple[str, str]]:
    """Instance id → (version, values as JSON): what a write would change."""
    return {i.id: (i.version, json.dumps(i.values, sort_keys=True))
            for i in emulator.store.instances.values()}


def test_init_writes_a_file_that_adopts_and_then_is_clean(
        fleet: tuple[str, Emulator], tmp_path: Path) -> None:
    url, emulator = fleet
    out = tmp_path / "fleet.yaml"
    state = str(tmp_path / "state")
    written = _init(url, out)
    assert written.exit_code == 0, written.output
    assert f"wrote {out}: 20 clusters" in written.stderr
    assert SECRET_VAR in written.stderr
    text = out.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)

    # One entry per cluster with its id, labels and Kubernetes version.
    scenario = _edited_fleet()
    assert list(doc["clusters"]) == [c.name for c in scenario.clusters]
    for cluster in scenario.clusters:
        entry = doc["clusters"][cluster.name]
        assert entry["cluster_id"] == cluster.id
        assert entry["labels"] == dict(cluster.labels)
        assert f'cluster_id: "{cluster.id}"  # Kubernetes {cluster.version}' in text
    assert doc["defaults"] == {"region": REGION, "project_id": PROJECT, "endpoint": url}

    # What all run alike is the base profile; the hand edits stay per cluster.
    profiles = doc["profiles"]
    assert list(profiles) == ["base"] and profiles["base"]["clusters"] == ["*"]
    base = profiles["base"]["addons"]
    # Pinned where most run one version (the one line to edit), `latest` where
    # most run their newest (a version per Kubernetes minor).
    assert base == {"autoscaler": {"version": "latest"}, "coredns": {"version": "1.30.33"},
                    "everest": {"version": "2.4.7"}, "metrics-server": {"version": "latest"},
                    "npd": {"version": "latest"}}
    assert ("      coredns: {version: 1.30.33}  # installed by CCE; values as CCE set them"
            " unless a cluster says otherwise") in text
    clusters = doc["clusters"]
    assert clusters["bench-00003"]["addons"]["coredns"] == {
        "values": {"custom": {"upstream_nameservers": ["10.9.9.9"]}}}
    # bench-00004 runs 2.3.14 with 2.4.7's images: they differ from 2.3.14's defaults.
    assert clusters["bench-00004"]["addons"]["everest"] == {"version": "2.3.14", "values": {
        "basic": {"controller_version": "2.4.7", "driver_version": "2.4.7"}}}
    assert clusters["bench-00005"]["addons"]["volcano"]["version"]
    assert "volcano" not in clusters["bench-00006"].get("addons", {})
    # Only differing values: no template default and no derived id is written.
    assert "tolerations" not in text and "cluster_id: 0" not in text
    assert "tenant_id" not in text and "maxNodesTotal" not in text

    # The secret: a placeholder naming the variable, never the value.
    assert PASSWORD not in text
    line = next(li for li in text.splitlines() if "admin_password:" in li)
    assert f"admin_password: \"{{{{ secret('{SECRET_VAR}') }}}}\"" in line
    assert f"set {SECRET_VAR}" in line and f"--allow-env {SECRET_VAR}" in line
    assert f"#   {SECRET_VAR}" in text  # listed in the header too
    # CCE took a key its template lacks: the file lets plan's value-key check pass it.
    assert "allow_unknown_values:\n        - custom.admin_password" in text

    before = _live(emulator)
    plan = _run("plan", str(out), "--state-dir", state, "--format", "json",
                "--out", str(tmp_path / "plan.json"), **{SECRET_VAR: PASSWORD})
    assert plan.exit_code == 0, plan.output
    summary = json.loads(plan.stdout)["summary"]
    adopts = sum(1 for _ in scenario.instances)
    assert {k: summary.get(k, 0) for k in ("install", "upgrade", "update", "delete")} == {
        "install": 0, "upgrade": 0, "update": 0, "delete": 0}
    actions = {ch["action"] for c in json.loads(plan.stdout)["clusters"] for ch in c["changes"]}
    assert actions == {"adopt"}
    assert summary["adopt"] == adopts

    applied = _run("apply", str(tmp_path / "plan.json"), "--state-dir", state,
                   **{SECRET_VAR: PASSWORD})
    assert applied.exit_code == 0, applied.output
    assert _live(emulator) == before  # apply only recorded state: not one write

    again = _run("plan", str(out), "--state-dir", state, "--detailed-exitcode",
                 **{SECRET_VAR: PASSWORD})
    assert again.exit_code == 0, again.output
    drift = _run("drift", str(out), "--state-dir", state, **{SECRET_VAR: PASSWORD})
    assert drift.exit_code == 0, drift.output

    # The secret's value is in no file the runs wrote, nor in any output.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    for result in (written, plan, applied, again, drift):
        assert PASSWORD not in result.output

    # Nor in the bodies -vv logs, on stderr and in the log file.
    verbose = _init(url, tmp_path / "again.yaml", "-vv", "--log-file", str(tmp_path / "log"))
    assert verbose.exit_code == 0 and "admin_password" in (tmp_path / "log").read_text()
    assert PASSWORD not in verbose.output
    assert PASSWORD.encode() not in (tmp_path / "log").read_bytes()

    # Re-running on the unchanged fleet: up to date, nothing rewritten.
    same = _init(url, out)
    assert same.exit_code == 0 and "up to date" in same.stderr
    assert out.read_text(encoding="utf-8") == text


def test_init_on_an_existing_file_shows_the_diff_and_needs_force(
        fleet: tuple[str, Emulator], tmp_path: Path) -> None:
    url, _ = fleet
    out = tmp_path / "fleet.yaml"
    assert _init(url, out).exit_code == 0
    generated = out.read_text(encoding="utf-8")
    mine = generated.replace("version: 2.3.14", "version: 2.4.7")
    out.write_text(mine, encoding="utf-8")

    shown = _init(url, out)
    assert shown.exit_code == 2
    assert "\n-        version: 2.4.7\n+        version: 2.3.14\n" in shown.stdout
    assert shown.stdout.startswith(f"--- {out}\n+++ {out} (init)\n")
    assert "not overwritten" in shown.stderr and "--force" in shown.stderr
    assert out.read_text(encoding="utf-8") == mine

    forced = _init(url, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8") == generated


def test_init_chooses_clusters_by_label(fleet: tuple[str, Emulator], tmp_path: Path) -> None:
    url, _ = fleet
    out = tmp_path / "staging.yaml"
    result = _init(url, out, "--cluster", "env=staging")
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert list(doc["clusters"]) == ["bench-00000"]  # one canary in 20
    assert "profiles" not in doc  # one cluster: nothing to factor

    none = _init(url, tmp_path / "none.yaml", "--cluster", "env=nowhere")
    assert none.exit_code == 1
    assert "chooses none of the 20 clusters" in none.stderr
    assert not (tmp_path / "none.yaml").exists()

    bad = _init(url, tmp_path / "bad.yaml", "--cluster", "env in (a")
    assert bad.exit_code == 1 and "--cluster" in bad.stderr


def test_label_profiles_on_the_packaged_fleet_still_plan_to_adoptions_only(
        tmp_path: Path) -> None:
    """emulator://fleet's twelve clusters differ by label (prod's autoscaler,
    bronze's older versions, dev's and staging's coredns values): label profiles,
    and clusters that run otherwise override them; the merge is what runs."""
    out, state = tmp_path / "fleet.yaml", str(tmp_path / ".reconciler" / "state")
    written = _run("init", "--endpoint", "emulator://fleet", "--region", REGION,
                   "--project-id", PROJECT, "--out", str(out), "--state-dir", state)
    assert written.exit_code == 0, written.output
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    profiles = doc["profiles"]
    assert list(profiles)[:2] == ["base", "env-prod"]
    assert profiles["env-prod"]["clusters"] == ["env=prod"]
    assert profiles["env-prod"]["addons"]["autoscaler"] == {
        "version": "latest", "values": {"custom": {"maxNodesTotal": 50}}}
    plan = _run("plan", str(out), "--state-dir", state, "--format", "json")
    assert plan.exit_code == 0, plan.output
    body = json.loads(plan.stdout)
    assert {ch["action"] for c in body["clusters"] for ch in c["changes"]} == {"adopt"}
    assert body["summary"]["adopt"] == 48
