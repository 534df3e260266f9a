"""Saved plans of a fleet (issue 14): they pin the version a constraint
resolved to, and the rollout waves.

``version: latest`` is resolved when planning; the saved plan holds the exact
``after_version``. A newer template version published between ``plan --out``
and ``apply PLAN`` neither makes the plan stale nor changes what it installs:
the reviewed version is applied. The next plan from the files picks the newer
one up (a constraint tracks the newest).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from reconciler.emulator import Emulator
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.model.plan import Action
from reconciler.model.rollout import Rollout, Wave
from reconciler.planfile import load_plan, save_plan
from reconciler.run.apply import apply_plan, stale_plan_reasons
from reconciler.run.plan import make_plan
from reconciler.statemgr.local import LocalBackend
from reconciler.views.progress import LogProgress

from .apply_helpers import (
    ENDPOINT,
    FATAL_ID,
    MAIN_ID,
    PROJECT,
    live,
    new_emulator,
    options,
    session_for,
)

LATEST = DesiredState(clusters=(ClusterSpec(
    name="t-main", cluster_id=MAIN_ID, region="ap-southeast-1", project_id=PROJECT,
    endpoint=ENDPOINT, addons=(AddonSpec(name="metrics-server", version_constraint="latest"),),
    labels={"env": "test"}),), files=("fleet.yaml",), digest="f" * 64)


def publish_newer_metrics_server(emu: Emulator) -> None:
    """CCE publishes metrics-server 1.3.70 (as 1.3.68, for the same clusters)."""
    template = emu.store.templates["metrics-server"]
    newest = dataclasses.replace(template.versions[-1], version="1.3.70")
    emu.store.templates["metrics-server"] = dataclasses.replace(
        template, versions=(*template.versions, newest))


async def test_a_saved_plan_applies_the_pinned_version_after_a_newer_one_appears(
        tmp_path: Path) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    async with session_for(emu) as session:
        planned = await make_plan(LATEST, session, store)
    (change,) = planned.plan.clusters[0].changes
    assert (change.after_version, change.version_constraint) == ("1.3.68", "latest")
    planfile = tmp_path / "plan.json"
    save_plan(planfile, planned.plan, salts=planned.salts)

    publish_newer_metrics_server(emu)
    saved = load_plan(planfile)
    assert saved.clusters[0].changes[0].version_constraint == "latest"
    assert dict(saved.clusters[0].labels) == {"env": "test"}
    async with session_for(emu) as session:
        assert await stale_plan_reasons(saved, session, store, environ={}) == []
        log = io.StringIO()
        result = await apply_plan(saved, session, store, salts={}, options=options(),
                                  progress=LogProgress(log))
        assert result.ok, log.getvalue()
        assert live(emu, MAIN_ID)["metrics-server"][0] == "1.3.68"
        again = await make_plan(LATEST, session, store)
    (upgrade,) = again.plan.clusters[0].changes
    assert (upgrade.action, upgrade.before_version, upgrade.after_version) == (
        Action.UPGRADE, "1.3.68", "1.3.70")


async def test_plan_assigns_waves_over_the_selected_clusters_and_the_saved_plan_keeps_them(
        tmp_path: Path) -> None:
    other = dataclasses.replace(LATEST.clusters[0], name="t-fatal", cluster_id=FATAL_ID,
                                labels={"env": "prod"})
    rollout = Rollout(waves=(Wave(name="canary", clusters=("env=test",), soak_s=30.0),
                             Wave(name="prod", clusters=("t-*",), max_failures=1)))
    fleet = dataclasses.replace(LATEST, clusters=(*LATEST.clusters, other), rollout=rollout)
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    async with session_for(emu) as session:
        planned = await make_plan(fleet, session, store)
        # --cluster t-fatal: only that cluster is planned; the waves stay whole.
        selected = await make_plan(dataclasses.replace(fleet, clusters=(other,)), session, store)
    assert [(c.name, c.wave) for c in planned.plan.clusters] == [
        ("t-main", "canary"), ("t-fatal", "prod")]
    assert [(c.name, c.wave) for c in selected.plan.clusters] == [("t-fatal", "prod")]
    assert selected.plan.rollout == rollout
    planfile = tmp_path / "plan.json"
    save_plan(planfile, planned.plan, salts=planned.salts)
    saved = load_plan(planfile)
    assert saved.rollout == rollout
    assert [(c.wave, dict(c.labels)) for c in saved.clusters] == [
        ("canary", {"env": "test"}), ("prod", {"env": "prod"})]
