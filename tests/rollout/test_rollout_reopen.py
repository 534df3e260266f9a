"""An open gate (a change that never passed its wave's gate) is judged against
the plan being applied now: add-ons no longer declared present are closed, not
soaked; a cluster is soaked in the wave it is in now; a cluster not in the plan
keeps its records for the plan that has it again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from builders.desired import cluster, desired_yaml

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.plan import Action, Change, ClusterPlan
from reconciler.model.rollout import Rollout, Wave
from reconciler.model.rollout_result import SoakOutcome
from reconciler.run.rollout import judge_pending, pending_gate
from reconciler.statemgr.local import LocalBackend

from .rollout_helpers import (
    CLUSTER_IDS,
    RecordingApp,
    desired_file,
    journal_kinds,
    live_versions,
    new_emulator,
    run_rollout,
    wave,
    waves,
)


def planned(*changes: Change, unmanaged: tuple[str, ...] = (),
            managed_undeclared: tuple[str, ...] = (), errors: int = 0) -> ClusterPlan:
    diagnostics = tuple(Diagnostic("f.yaml", 1, 1, "clusters.c", "a plan error")
                        for _ in range(errors))
    return ClusterPlan(name="c", cluster_id="id", endpoint="", project_id="p", region="r",
                       changes=changes, unmanaged=unmanaged,
                       managed_undeclared=managed_undeclared, errors=diagnostics)


def change(addon: str, action: Action, reason: str = "") -> Change:
    return Change(addon=addon, action=action, reason=reason)


PENDING = ("coredns", "nginx-ingress")
NOOP_COREDNS = change("coredns", Action.NOOP, "up to date")


@pytest.mark.parametrize(("plan", "targeted", "judged"), [
    # removed from the file, the failed instance still live: unmanaged
    (planned(NOOP_COREDNS, unmanaged=("nginx-ingress",)), False,
     (("coredns",), ("nginx-ingress",))),
    (planned(NOOP_COREDNS, managed_undeclared=("nginx-ingress",)), False,
     (("coredns",), ("nginx-ingress",))),
    # declared absent: deleted by this run, already gone, or going
    (planned(NOOP_COREDNS, change("nginx-ingress", Action.DELETE)), False,
     (("coredns",), ("nginx-ingress",))),
    (planned(NOOP_COREDNS, change("nginx-ingress", Action.NOOP,
                                  "declared absent and not installed")), False,
     (("coredns",), ("nginx-ingress",))),
    (planned(NOOP_COREDNS, change("nginx-ingress", Action.NOOP, "already being deleted")),
     False, (("coredns",), ("nginx-ingress",))),
    # removed and gone from live: a full plan does not mention it at all
    (planned(NOOP_COREDNS), False, (("coredns",), ("nginx-ingress",))),
    # still declared present (a repair, or healthy now): soaked again
    (planned(NOOP_COREDNS, change("nginx-ingress", Action.REPAIR)), False, (PENDING, ())),
    (planned(NOOP_COREDNS, change("nginx-ingress", Action.NOOP, "up to date")), False,
     (PENDING, ())),
    # plans that do not show every declared add-on prove nothing by silence
    (planned(NOOP_COREDNS), True, (PENDING, ())),
    (planned(change("coredns", Action.REFRESH)), False, (PENDING, ())),
    (planned(), False, (PENDING, ())),
    (planned(NOOP_COREDNS, errors=1), False, (PENDING, ())),
])
def test_open_addons_are_judged_against_the_current_plan(
    plan: ClusterPlan, targeted: bool, judged: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    assert judge_pending(plan, PENDING, targeted=targeted) == judged


def test_a_close_record_settles_only_the_addons_it_names() -> None:
    records = [{"action": "wave-start", "addons": ["coredns", "nginx-ingress"]},
               {"action": "gate", "result": "halted"},
               {"action": "close", "result": "dropped", "addons": ["nginx-ingress"]}]
    assert pending_gate(records) == ("coredns",)
    # a later change of the same add-on opens it again
    assert pending_gate([*records, {"action": "wave-start", "addons": ["nginx-ingress"]}]) \
        == ("coredns", "nginx-ingress")
    assert pending_gate([*records, {"action": "gate", "result": "passed"}]) == ()


async def _left_open(tmp_path: Path) -> tuple[RecordingApp, LocalBackend, Path]:
    """r-canary upgraded and cancelled while soaking: its gate stays open."""
    store = LocalBackend(tmp_path / "state")
    path = desired_file(tmp_path)
    app = RecordingApp(new_emulator(tmp_path))
    run = asyncio.ensure_future(run_rollout(app, store, path, waves(soak_s=60.0)))
    while live_versions(app.emu)["r-canary"] != ("1.3.68", "running") or not any(
            r.get("action") == "wave-start" for r in store.read_journal("r-canary")):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert pending_gate(store.read_journal("r-canary")) == ("metrics-server",)
    return app, store, path


async def test_a_cluster_moved_to_another_wave_is_soaked_in_its_new_wave(
    tmp_path: Path,
) -> None:
    app, store, path = await _left_open(tmp_path)
    moved = Rollout(waves=(Wave("canary", ("r-prod-1",), soak_s=0.3),
                           Wave("prod", ("r-prod-*",), soak_s=0.3),
                           Wave("rest", soak_s=0.3)))
    result, log = await run_rollout(app, store, path, moved)
    assert result.ok, log
    assert wave(result, "rest").changed[0] == "r-canary"
    assert log.index("wave rest: soaking") > log.index("wave prod: starting")
    assert journal_kinds(store, "r-canary")[1:] == [("soak", "rest", "passed"),
                                                    ("gate", "rest", "passed")]


async def test_a_cluster_not_in_the_plan_keeps_its_open_gate(tmp_path: Path) -> None:
    app, store, _ = await _left_open(tmp_path)
    # r-canary is no longer in the files: nothing of it is soaked or settled
    addons = {"metrics-server": {"version": "1.3.68"}}
    others = tmp_path / "others.yaml"
    others.write_text(desired_yaml({n: cluster(cid, addons) for n, cid in CLUSTER_IDS.items()
                                    if n != "r-canary"}), encoding="utf-8")
    result, log = await run_rollout(app, store, others, waves(soak_s=0.2))
    assert result.ok, log
    assert wave(result, "canary").soak is SoakOutcome.NONE
    assert [k[0] for k in journal_kinds(store, "r-canary")] == ["wave-start"]
    assert pending_gate(store.read_journal("r-canary")) == ("metrics-server",)
