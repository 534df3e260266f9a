"""Rollouts against the emulator in-process: halt and resume, soak, pause, --wave,
failure budgets, parallelism, and a run killed while soaking."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest

from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.model.rollout_result import RolloutStop, SoakOutcome, WaveStatus
from reconciler.run.rollout import RolloutError, check_wave_name
from reconciler.statemgr.local import LocalBackend
from reconciler.views.apply import apply_result_json
from reconciler.views.rollout import rollout_json, rollout_text

from .rollout_helpers import (
    BAD_PROD_2,
    CLUSTER_IDS,
    INSTANCE_IDS,
    REST,
    SECRET,
    TIME_SCALE,
    ActiveClusters,
    RecordingApp,
    desired_file,
    journal_kinds,
    live_versions,
    new_emulator,
    run_rollout,
    wave,
    waves,
)

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

NEW, OLD = "1.3.68", "1.3.60"


async def test_a_failing_second_wave_halts_and_a_rerun_resumes(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    path = desired_file(tmp_path)
    app = RecordingApp(new_emulator(tmp_path, rules=BAD_PROD_2))

    result, log = await run_rollout(app, store, path, waves())

    assert result.stop is RolloutStop.HALTED and not result.ok
    assert [w.status for w in result.waves] == [
        WaveStatus.PASSED, WaveStatus.HALTED, WaveStatus.NOT_STARTED]
    prod = wave(result, "prod")
    assert prod.failed_clusters == ("r-prod-2",)
    assert prod.soak is SoakOutcome.NOT_RUN
    (failure,) = prod.failures
    assert failure.addon == "metrics-server" and "UpgradeFailed" in failure.reason
    # The third wave is untouched: not one write, versions as they were.
    live = live_versions(app.emu)
    assert [live[n][0] for n in REST] == [OLD, OLD]
    assert [app.writes_to(n) for n in REST] == [[], []]
    assert live["r-canary"] == (NEW, "running")
    assert live["r-prod-2"] == (NEW, "upgradeFailed")
    assert [store.read_journal(n) for n in REST] == [[], []]

    report = rollout_text(result)
    assert "Rollout halted at wave prod" in report
    assert "r-prod-2/metrics-server: upgrade failed" in report
    assert "UpgradeFailed" in report and "To resume" in report
    assert "rest: not started (2 clusters)" in report
    assert "wave canary: passed" in log and "wave prod: halted" in log
    assert ("halt", "prod", "halted") in journal_kinds(store, "r-prod-2")
    assert ("gate", "prod", "halted") in journal_kinds(store, "r-prod-1")

    # The rule lifted (the emulator restarted without --rules): apply again resumes.
    app = RecordingApp(new_emulator(tmp_path))
    result, log = await run_rollout(app, store, path, waves())

    assert result.stop is RolloutStop.COMPLETED and result.ok, log
    canary, prod, rest = result.waves
    assert canary.status is WaveStatus.PASSED and canary.changed == ()
    assert canary.soak is SoakOutcome.NONE
    assert app.writes_to("r-canary") == []
    # r-prod-2 repaired; r-prod-1/3 changed last time but never passed their gate.
    assert prod.changed == ("r-prod-1", "r-prod-2", "r-prod-3")
    assert prod.soak is SoakOutcome.PASSED
    assert rest.changed == REST
    assert {v for v in live_versions(app.emu).values()} == {(NEW, "running")}
    assert "Rollout complete: 3 of 3 waves passed." in rollout_text(result)


async def test_soak_catches_an_addon_that_turns_abnormal_after_running(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    # Like a crash-looping pod: healthy at first, abnormal two (real) seconds
    # later; the emulator's abnormal rule counts emulated seconds.
    rules = tmp_path / "abnormal.rules.yaml"
    rules.write_text(
        "abnormal_rules:\n"
        "  - template: metrics-server\n"
        "    cluster: r-canary\n"
        "    version: 1\\.3\\.68\n"
        f"    after_s: {2.0 * TIME_SCALE}\n"
        "    reason: PodCrashLoop\n"
        "    message: metrics-server-7d9 restarted 5 times\n")
    app = RecordingApp(new_emulator(tmp_path, rules=rules))
    instance = app.emu.store.instances[INSTANCE_IDS["r-canary"]]

    async def sicken() -> float:
        # When the upgraded add-on turns abnormal: two seconds after it ran.
        while (instance.version, instance.status, instance.op) != (NEW, "running", None):
            app.emu.store.list_instances(CLUSTER_IDS["r-canary"], time.time())
            await asyncio.sleep(0.01)
        return time.monotonic() + 2.0

    sick = asyncio.ensure_future(sicken())
    result, log = await run_rollout(app, store, desired_file(tmp_path), waves(soak_s=4.0),
                                    soak_poll_s=0.5)
    turned = await sick

    assert result.stop is RolloutStop.HALTED, log
    canary = wave(result, "canary")
    assert canary.status is WaveStatus.HALTED and canary.soak is SoakOutcome.FAILED
    (failure,) = canary.failures
    assert failure.during_soak and failure.addon == "metrics-server"
    assert "turned abnormal during the soak" in failure.reason
    assert "PodCrashLoop" in failure.reason
    # The soak's reads (after the add-on was running) are never closer than its interval.
    reads = [t for t in app.lists[CLUSTER_IDS["r-canary"]] if t >= turned - 1.99]
    assert len(reads) >= 4
    assert min(b - a for a, b in itertools.pairwise(reads)) >= 0.45
    for name in ("r-prod-1", "r-prod-2", "r-prod-3", *REST):
        assert app.writes_to(name) == [] and live_versions(app.emu)[name][0] == OLD
    kinds = journal_kinds(store, "r-canary")
    assert [k[0] for k in kinds] == ["wave-start", "soak", "gate", "halt"]
    assert kinds[1] == ("soak", "canary", "failed")


async def test_manual_pause_stops_after_each_wave_that_changed_something(
    tmp_path: Path,
) -> None:
    store = LocalBackend(tmp_path / "state")
    path = desired_file(tmp_path)
    app = RecordingApp(new_emulator(tmp_path))
    rollout = waves(soak_s=0.2, pause=PauseMode.MANUAL)

    first, _ = await run_rollout(app, store, path, rollout)
    assert first.stop is RolloutStop.PAUSED and first.ok and first.next_wave == "prod"
    assert [w.status for w in first.waves] == [
        WaveStatus.PASSED, WaveStatus.NOT_STARTED, WaveStatus.NOT_STARTED]
    assert "Wave canary passed; rollout paused before wave prod." in rollout_text(first)
    assert "To continue with wave prod" in rollout_text(first)
    assert app.writes_to("r-prod-1") == []

    second, _ = await run_rollout(app, store, path, rollout)
    assert second.stop is RolloutStop.PAUSED and second.next_wave == "rest"
    assert wave(second, "canary").changed == ()  # passed again at once, no pause there
    assert wave(second, "prod").changed == ("r-prod-1", "r-prod-2", "r-prod-3")

    third, _ = await run_rollout(app, store, path, rollout)
    assert third.stop is RolloutStop.COMPLETED and third.ok
    assert {v for v in live_versions(app.emu).values()} == {(NEW, "running")}

    # --pause does what `pause: manual` does, for a rollout that doesn't say so.
    store2 = LocalBackend(tmp_path / "state2")
    app2 = RecordingApp(new_emulator(tmp_path / "second-emulator"))
    flagged, _ = await run_rollout(app2, store2, path, waves(soak_s=0.1), pause=True)
    assert flagged.stop is RolloutStop.PAUSED and flagged.next_wave == "prod"


async def test_wave_option_runs_up_to_and_including_the_named_wave(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path))
    result, _ = await run_rollout(app, store, desired_file(tmp_path), waves(soak_s=0.1),
                                  until_wave="prod")
    assert result.stop is RolloutStop.UNTIL_WAVE and result.ok and result.next_wave == "rest"
    live = live_versions(app.emu)
    assert [live[n][0] for n in ("r-canary", "r-prod-1", "r-prod-2", "r-prod-3")] == [NEW] * 4
    assert [app.writes_to(n) for n in REST] == [[], []]
    assert "Wave prod passed; rollout stopped (--wave) before wave rest." in rollout_text(result)

    with pytest.raises(ValueError, match="no such wave; the waves are: canary, prod, rest"):
        check_wave_name(waves(), "prdo")
    with pytest.raises(ValueError, match="no `rollout:` block"):
        check_wave_name(None, "prod")


async def test_a_cluster_in_no_wave_stops_the_rollout_before_any_write(
    tmp_path: Path,
) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path))
    only_named = Rollout(waves=(Wave("canary", ("r-canary",)), Wave("prod", ("r-prod-*",))))
    with pytest.raises(RolloutError, match="cluster r-rest-1 is in no wave"):
        await run_rollout(app, store, desired_file(tmp_path), only_named)
    assert app.writes == [] and store.list() == []


async def test_max_failures_tolerates_one_failed_cluster(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path, rules=BAD_PROD_2))
    result, log = await run_rollout(app, store, desired_file(tmp_path),
                                    waves(soak_s=0.2, prod={"max_failures": 1}))
    assert result.stop is RolloutStop.COMPLETED, log
    prod = wave(result, "prod")
    assert prod.status is WaveStatus.PASSED and prod.failed_clusters == ("r-prod-2",)
    assert prod.soak is SoakOutcome.PASSED  # the two that upgraded were soaked
    assert [live_versions(app.emu)[n] for n in REST] == [(NEW, "running")] * 2
    # A tolerated failure lets the rollout go on, but still exits 1 so it is seen.
    assert not result.ok
    assert ("gate", "prod", "failed") in journal_kinds(store, "r-prod-2")
    assert ("gate", "prod", "passed") in journal_kinds(store, "r-prod-1")


async def test_a_wave_starts_no_more_clusters_once_its_budget_is_spent(
    tmp_path: Path,
) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path, rules=BAD_PROD_2))
    result, log = await run_rollout(app, store, desired_file(tmp_path),
                                    waves(soak_s=0.2, prod={"max_parallel": 1}))
    prod = wave(result, "prod")
    assert prod.status is WaveStatus.HALTED, log
    # One at a time: r-prod-1 upgraded, r-prod-2 failed, so r-prod-3 never started.
    assert prod.failed_clusters == ("r-prod-2",) and prod.held_back == ("r-prod-3",)
    assert prod.changed == ("r-prod-1", "r-prod-2")
    assert app.writes_to("r-prod-3") == [] and live_versions(app.emu)["r-prod-3"][0] == OLD
    assert "1 not started once the budget was spent" in rollout_text(result)
    held = next(c for c in result.apply.clusters if c.name == "r-prod-3")
    assert held.error.startswith("not started: wave prod already has 1 failed cluster(s)")

    # Fixed, the next run applies r-prod-3 (and repairs r-prod-2).
    app = RecordingApp(new_emulator(tmp_path))
    result, log = await run_rollout(app, store, desired_file(tmp_path),
                                    waves(soak_s=0.2, prod={"max_parallel": 1}))
    assert result.ok, log
    assert wave(result, "prod").changed == ("r-prod-1", "r-prod-2", "r-prod-3")


@pytest.mark.parametrize("max_parallel", [1, 2])
async def test_max_parallel_bounds_the_clusters_of_a_wave_at_once(
    tmp_path: Path, max_parallel: int,
) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path))
    progress = ActiveClusters()
    result, log = await run_rollout(app, store, desired_file(tmp_path),
                                    waves(soak_s=0.0, prod={"max_parallel": max_parallel}),
                                    progress=progress)
    assert result.ok, log
    prod = {"r-prod-1", "r-prod-2", "r-prod-3"}
    at_once = max(len(seen & prod) for seen in progress.seen)
    assert at_once == max_parallel
    # Waves never overlap: no prod cluster runs beside a canary or rest one.
    assert not any(seen & prod and seen - prod for seen in progress.seen)


async def test_a_run_cancelled_while_soaking_soaks_again_on_the_next_run(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    path = desired_file(tmp_path)
    app = RecordingApp(new_emulator(tmp_path))
    run = asyncio.ensure_future(run_rollout(app, store, path, waves(soak_s=60.0)))
    while not any(r.get("action") == "wave-start" for r in store.read_journal("r-canary")):
        await asyncio.sleep(0.02)
    while live_versions(app.emu)["r-canary"] != (NEW, "running"):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # well into the 60 s soak
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert [k[0] for k in journal_kinds(store, "r-canary")] == ["wave-start"]

    # The canary has nothing left to change, yet it is soaked before prod runs.
    result, log = await run_rollout(app, store, path, waves(soak_s=0.3))
    assert result.ok, log
    canary = wave(result, "canary")
    assert canary.changed == ("r-canary",) and canary.soak is SoakOutcome.PASSED
    assert app.writes_to("r-canary")  # only the first run's writes
    assert log.index("wave canary: soaking 1 add-on(s) on 1 cluster") < log.index(
        "wave prod: starting")
    kinds = journal_kinds(store, "r-canary")
    assert [k[0] for k in kinds] == ["wave-start", "soak", "gate"]
    assert kinds[-1] == ("gate", "canary", "passed")

    # Gated now: a third run has nothing to soak anywhere.
    again, _ = await run_rollout(app, store, path, waves(soak_s=0.3))
    assert [w.soak for w in again.waves] == [SoakOutcome.NONE] * 3


async def test_journal_records_and_reports_hold_no_secret(tmp_path: Path) -> None:
    store = LocalBackend(tmp_path / "state")
    app = RecordingApp(new_emulator(tmp_path, rules=BAD_PROD_2))
    result, log = await run_rollout(app, store, desired_file(tmp_path), waves(soak_s=0.2))

    # The secret really was sent (so the markers below can fail)...
    assert any(SECRET in w for w in app.writes_to("r-canary"))
    # ...and appears nowhere we write.
    for name in CLUSTER_IDS:
        assert SECRET not in json.dumps(store.read_journal(name))
        state = (tmp_path / "state" / f"{name}.json")
        assert not state.exists() or SECRET not in state.read_text()
    document = {**apply_result_json(result.apply), "rollout": rollout_json(result)}
    assert SECRET not in json.dumps(document) + rollout_text(result) + log
    kinds = {k[0] for k in journal_kinds(store, "r-prod-1")}
    assert kinds == {"wave-start", "gate", "halt"}
    assert {k[0] for k in journal_kinds(store, "r-canary")} == {"wave-start", "soak", "gate"}
    waves_json = document["rollout"]["waves"]
    assert [w["status"] for w in waves_json] == ["passed", "halted", "not started"]
    assert waves_json[1]["failures"][0]["cluster"] == "r-prod-2"
