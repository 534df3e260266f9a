"""A rollout's last line agrees with its report: never "Apply complete" after a
halt (even one the soak caused, when the run wrote nothing), and a failure a
wave tolerated still reads as one and exits 1."""

from __future__ import annotations

from reconciler.model.apply import AddonResult, ApplyResult, ClusterResult, Outcome
from reconciler.model.plan import Action
from reconciler.model.rollout_result import (
    ClusterFailure,
    RolloutResult,
    RolloutStop,
    SoakOutcome,
    WaveResult,
    WaveStatus,
)
from reconciler.views.rollout import rollout_summary

CANARY = ("c-1", "c-2")
UNHEALTHY = tuple(ClusterFailure(n, "nginx-ingress", "turned installFailed during the soak",
                                 during_soak=True) for n in CANARY)


def _result(stop: RolloutStop, canary: WaveResult, *addons: AddonResult) -> RolloutResult:
    rest = WaveResult(name="rest", status=WaveStatus.NOT_STARTED if stop is RolloutStop.HALTED
                      else WaveStatus.PASSED, clusters=("r-1",))
    return RolloutResult(
        waves=(canary, rest), stop=stop,
        apply=ApplyResult(plan_id="p", clusters=(ClusterResult(name="c-1", addons=addons),)),
        next_wave="canary" if stop is RolloutStop.HALTED else "")


def test_a_halt_found_by_the_soak_alone_is_no_complete_apply() -> None:
    # A resumed run re-soaks what an earlier run wrote: it writes nothing itself.
    canary = WaveResult(name="canary", status=WaveStatus.HALTED, clusters=CANARY,
                        changed=CANARY, failures=UNHEALTHY, soak_s=20.0,
                        soak=SoakOutcome.FAILED)
    result = _result(RolloutStop.HALTED, canary)
    assert result.apply.ok and not result.ok
    assert rollout_summary(result) == (
        "Apply halted at wave canary, 2 of 2 clusters failed (at most 0 tolerated):"
        " 0 done, 2 failed (2 unhealthy during the soak), 0 blocked.")


def test_a_halt_by_failed_installs_counts_them() -> None:
    failed = AddonResult(cluster="c-1", addon="nginx-ingress", action=Action.INSTALL,
                         outcome=Outcome.FAILED, message="installFailed")
    done = AddonResult(cluster="c-1", addon="coredns", action=Action.UPGRADE,
                       outcome=Outcome.UPGRADED)
    canary = WaveResult(name="canary", status=WaveStatus.HALTED, clusters=CANARY,
                        changed=CANARY, failures=(ClusterFailure("c-1", "nginx-ingress",
                                                                 "install failed"),))
    assert rollout_summary(_result(RolloutStop.HALTED, canary, done, failed)) == (
        "Apply halted at wave canary, 1 of 2 clusters failed (at most 0 tolerated):"
        " 1 done (1 upgraded), 1 failed, 0 blocked.")


def test_a_soak_failure_a_wave_tolerated_still_fails_the_run() -> None:
    canary = WaveResult(name="canary", status=WaveStatus.PASSED, clusters=CANARY,
                        changed=CANARY, failures=UNHEALTHY[:1], max_failures=1,
                        soak=SoakOutcome.FAILED)
    result = _result(RolloutStop.COMPLETED, canary)
    assert result.apply.ok and not result.ok  # exit 1, as docs/rollout.md says
    assert rollout_summary(result) == (
        "Apply finished, 1 cluster failed (tolerated by max_failures):"
        " 0 done, 1 failed (1 unhealthy during the soak), 0 blocked.")


def test_a_clean_rollout_is_complete() -> None:
    canary = WaveResult(name="canary", status=WaveStatus.PASSED, clusters=CANARY,
                        soak=SoakOutcome.NONE)
    result = _result(RolloutStop.COMPLETED, canary)
    assert result.ok
    assert rollout_summary(result) == ("Apply complete: 0 installed, 0 upgraded, 0 updated,"
                                       " 0 deleted, 0 adopted; 0 blocked, 0 failed.")


def test_clusters_failed_before_any_write_and_held_back_ones_agree_with_the_report() -> None:
    """Issue 21: "4 of 8 clusters failed … 0 failed … 7 cluster(s) not applied"."""
    prod = tuple(f"p-{i}" for i in range(8))
    stale = prod[:4]
    held = prod[5:]
    clusters = (
        *(ClusterResult(name=n, error="plan is stale: … Plan again.") for n in stale),
        ClusterResult(name=prod[4], addons=(AddonResult(
            cluster=prod[4], addon="everest", action=Action.UPGRADE,
            outcome=Outcome.UPGRADED),)),
        *(ClusterResult(name=n, error="not started: wave prod already has 4 failed"
                        " cluster(s), more than its max_failures 1") for n in held),
    )
    wave = WaveResult(name="prod", status=WaveStatus.HALTED, clusters=prod,
                      changed=(prod[4],), failures=tuple(ClusterFailure(n, "", "plan is stale")
                                                         for n in stale),
                      held_back=held, max_failures=1, soak=SoakOutcome.NOT_RUN)
    result = RolloutResult(waves=(wave,), stop=RolloutStop.HALTED,
                           apply=ApplyResult(plan_id="p", clusters=clusters), next_wave="prod")
    assert rollout_summary(result) == (
        "Apply halted at wave prod, 4 of 8 clusters failed (at most 1 tolerated):"
        " 1 done (1 upgraded), 4 failed (4 cluster(s) not applied), 0 blocked,"
        " 3 cluster(s) not started (their wave's failure budget was spent).")
