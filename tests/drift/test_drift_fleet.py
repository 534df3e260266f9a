"""Drift JSON carries each cluster's labels and rollout wave (issue 14), read
from the demo emulator (in-process ASGI); the other drift formats are unchanged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
from drift_helpers import LEGACY_ID, PROJECT, REGION, STAGING_ID

from reconciler.cloud import CloudSession, Credentials
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.model.drift import DriftReport
from reconciler.model.rollout import Rollout, Wave
from reconciler.run.drift import detect_drift
from reconciler.statemgr.local import LocalBackend
from reconciler.views.driftjson import drift_to_json, dumps_drift_json


def fleet(rollout: Rollout | None) -> DesiredState:
    def one(name: str, cluster_id: str, labels: dict[str, str]) -> ClusterSpec:
        return ClusterSpec(name=name, cluster_id=cluster_id, region=REGION, project_id=PROJECT,
                           endpoint=f"https://cce.{REGION}.myhuaweicloud.com", labels=labels,
                           addons=(AddonSpec(name="coredns"),))
    return DesiredState(clusters=(one("demo-staging", STAGING_ID, {"env": "staging"}),
                                  one("demo-legacy", LEGACY_ID, {"env": "prod", "tier": "old"})),
                        rollout=rollout, digest="d" * 64)


async def drift_of(desired: DesiredState, tmp_path: Path) -> DriftReport:
    emulator = Emulator(load_scenario(demo_scenario_path()))
    account = emulator.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key,
                              project_id=account.project_id, region=REGION)
    async with CloudSession(credentials=credentials,
                            transport=httpx.ASGITransport(app=emulator.app)) as session:
        return await detect_drift(desired, session, LocalBackend(tmp_path / "state"))


async def test_drift_json_names_each_clusters_labels_and_wave(tmp_path: Path) -> None:
    rollout = Rollout(waves=(Wave(name="canary", clusters=("env=staging",), soak_s=60.0),
                             Wave(name="rest")))
    data = json.loads(dumps_drift_json(drift_to_json(await drift_of(fleet(rollout), tmp_path))))
    assert [(c["name"], c["labels"], c["wave"]) for c in data["clusters"]] == [
        ("demo-staging", {"env": "staging"}, "canary"),
        ("demo-legacy", {"env": "prod", "tier": "old"}, "rest")]


async def test_without_a_rollout_the_wave_is_empty(tmp_path: Path) -> None:
    report = await drift_of(fleet(None), tmp_path)
    assert [(c.wave, dict(c.labels)) for c in report.clusters] == [
        ("", {"env": "staging"}), ("", {"env": "prod", "tier": "old"})]


async def test_waves_are_assigned_over_the_selected_clusters(tmp_path: Path) -> None:
    # --cluster demo-legacy: the selection is made first; its wave is the same.
    rollout = Rollout(waves=(Wave(name="canary", clusters=("demo-staging",)),
                             Wave(name="prod", clusters=("env=prod",))))
    desired = fleet(rollout)
    selected = dataclasses.replace(desired, clusters=desired.clusters[1:])
    (only,) = (await drift_of(selected, tmp_path)).clusters
    assert (only.name, only.wave) == ("demo-legacy", "prod")
