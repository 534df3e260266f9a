"""The ``reconciler apply`` flows around the per-cluster run (``run.apply``).

Two ways in: desired-state files (plan now, show the plan, ask, apply) and a
saved plan (refuse it if stale, then apply exactly it). Both open and close
the one session, and hand back an ``ApplyResult`` or, when nothing was
written, an ``ApplyStopped`` saying why; the command turns either into text
(``views.apply``) and an exit code. Showing the plan, asking for 'yes' and the
progress display are the command's, passed in as callables, so that this
module writes nothing itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence

from reconciler.apply.waiting import WaitPolicy
from reconciler.cloud import CloudSession
from reconciler.model.apply import ApplyResult, ApplyStopped, Progress, Stop
from reconciler.model.desired import DesiredState, default_endpoint
from reconciler.model.plan import ClusterPlan, Plan
from reconciler.model.rollout_result import RolloutProgress, RolloutResult, WaveResult
from reconciler.model.secret_template import template_names
from reconciler.model.trust import EndpointRule, EnvRule
from reconciler.run.apply import ApplyOptions, apply_plan, stale_plan_reasons
from reconciler.run.plan import PlanResult, make_plan
from reconciler.run.rollout import RolloutOptions, apply_rollout, open_gates
from reconciler.statemgr.backend import StateBackend

FlowResult = ApplyResult | RolloutResult | ApplyStopped
"""What an apply flow hands back: a plain apply, a rollout, or why nothing ran."""

__all__ = [
    "FlowResult",
    "apply_files",
    "apply_options",
    "apply_saved",
    "check_plan_endpoints",
    "check_plan_variables",
    "plan_endpoint",
]


def plan_endpoint(cp: ClusterPlan) -> str:
    """Where a planned cluster really is: an empty endpoint is derived from the region."""
    return cp.endpoint or default_endpoint(cp.region)


def check_plan_endpoints(plan: Plan, allowed: EndpointRule, confirmed: str | None) -> None:
    """A saved plan says where to send credentials, and nothing vouches for
    it (its digest can be recomputed by whoever edits it). Each endpoint must
    pass the rule desired-state files pass (``model.trust.EndpointRule``:
    the region's official endpoint, emulator://, what the operator allows) or
    be ``confirmed`` — given again with ``--endpoint``. Raises ``ValueError``
    saying which and how."""
    endpoints = sorted({plan_endpoint(cp) for cp in plan.clusters})
    if confirmed is not None and confirmed not in endpoints:
        raise ValueError(
            f"--endpoint {confirmed!r} is not an endpoint of the plan (it has: "
            f"{', '.join(endpoints) or 'none'}); a saved plan is applied where it was planned"
        )
    if confirmed is not None:
        allowed = EndpointRule((*allowed.allowed, confirmed))
    for cp in plan.clusters:
        refused = allowed.endpoint_refusal(plan_endpoint(cp), cp.region)
        if refused is not None:
            message, hint = refused
            raise ValueError(f"cluster {cp.name}: the plan's {message}, so nothing is sent;"
                             f" {hint}")


def check_plan_variables(plan: Plan, allowed: EnvRule) -> None:
    """A saved plan names the variables apply re-reads its ``secret()`` values
    from, and nothing vouches for those names either: each must be one the
    operator allows templates to read (``model.trust.EnvRule``), as when the
    files were loaded. Raises ``ValueError`` naming the first that is not."""
    for cp in plan.clusters:
        for change in cp.changes:
            named = [name for names in change.secret_sources.values() for name in names]
            named += [name for template in change.secret_templates.values()
                      for name in template_names(template)]
            for name in dict.fromkeys(named):
                refused = allowed.refusal(name, f"secret('{name}')")
                if refused is not None:
                    message, hint = refused
                    raise ValueError(f"cluster {cp.name}, add-on {change.addon}: the plan's"
                                     f" {message}, so nothing is read or sent; {hint}")


def apply_options(
    accepted: Mapping[str, Mapping[str, Collection[str]]],
    *,
    parallelism: int,
    lock_timeout: float,
    addon_timeout: float,
    poll_interval: float,
    abnormal_grace: float,
    precheck_timeout: float,
) -> ApplyOptions:
    """The run's options from the command's flags (seconds throughout)."""
    return ApplyOptions(
        parallelism=parallelism,
        lock_timeout_s=lock_timeout,
        accept_risks=accepted,
        wait=WaitPolicy(
            timeout_s=addon_timeout, poll_interval_s=poll_interval, abnormal_grace_s=abnormal_grace
        ),
        precheck_timeout_s=precheck_timeout,
    )


async def apply_files(
    desired: DesiredState,
    session: CloudSession,
    store: StateBackend,
    options: ApplyOptions,
    *,
    accept_risks: Sequence[str],
    show: Callable[[PlanResult], None],
    approve: Callable[[], bool],
    progress: Callable[[], Progress],
    refresh_only: bool = False,
    targets: Sequence[str] = (),
    rollout: RolloutOptions | None = None,
    waves: Callable[[], RolloutProgress] | None = None,
    check_policy: Callable[[Plan, Mapping[str, str]], Plan] | None = None,
) -> FlowResult:
    """Plan, ``show`` the plan, ``approve`` it, apply it (within ``session``);
    ``refresh_only`` plans and applies only state-only refreshes, ``targets``
    only the changes of those add-ons (``--addon``). A plan with a rollout is
    applied wave by wave (``rollout`` options, ``waves`` its progress).
    ``check_policy`` adds the operator's policy results to the plan before it is
    shown; a denial nobody accepted stops the apply before any write."""
    async with session:
        planned = await make_plan(desired, session, store, accept_risks=accept_risks,
                                  refresh_only=refresh_only, targets=targets)
        if check_policy is not None:
            planned = dataclasses.replace(
                planned, plan=check_policy(planned.plan, planned.salts))
        show(planned)
        plan = planned.plan
        if plan.policy_denied:
            return ApplyStopped(Stop.POLICY_DENIED, ok=False)
        if not plan.has_changes:
            # A change an interrupted rollout made but never gated is still to
            # be soaked, though the plan has nothing left to write.
            if plan.rollout is None or not await open_gates(plan, store):
                return ApplyStopped(Stop.NOTHING_TO_APPLY, ok=not plan.has_errors)
        elif not approve():
            return ApplyStopped(Stop.CANCELLED, ok=False)
        return await _run(plan, session, store, planned.salts, options, progress,
                          rollout, waves)


async def apply_saved(
    plan: Plan,
    session: CloudSession,
    store: StateBackend,
    options: ApplyOptions,
    *,
    progress: Callable[[], Progress],
    rollout: RolloutOptions | None = None,
    waves: Callable[[], RolloutProgress] | None = None,
) -> FlowResult:
    """Apply a saved plan as reviewed, unless the state or live add-ons moved on;
    its waves (``Plan.rollout``, ``ClusterPlan.wave``) are followed."""
    async with session:
        reasons = await stale_plan_reasons(plan, session, store)
        if reasons:
            return ApplyStopped(Stop.STALE, ok=False, stale_reasons=tuple(reasons))
        if not plan.has_changes and (plan.rollout is None or not await open_gates(plan, store)):
            return ApplyStopped(Stop.SAVED_PLAN_EMPTY, ok=True)
        salts = {cp.name: cp.salt for cp in plan.clusters if cp.salt}
        return await _run(plan, session, store, salts, options, progress, rollout, waves)


async def _run(
    plan: Plan,
    session: CloudSession,
    store: StateBackend,
    salts: Mapping[str, str],
    options: ApplyOptions,
    progress_for: Callable[[], Progress],
    rollout: RolloutOptions | None,
    waves: Callable[[], RolloutProgress] | None,
) -> ApplyResult | RolloutResult:
    await _journal_policy_overrides(plan, store)
    # Created only now: a terminal progress display must not start before the
    # 'yes' prompt has been answered.
    progress = progress_for()
    try:
        if plan.rollout is not None:
            return await apply_rollout(
                plan, session, store, salts=salts, options=options,
                rollout_options=rollout or RolloutOptions(), progress=progress,
                waves_progress=waves() if waves is not None else _NoWaveLines(),
            )
        return await apply_plan(
            plan, session, store, salts=salts, options=options, progress=progress
        )
    finally:
        progress.close()


async def _journal_policy_overrides(plan: Plan, store: StateBackend) -> None:
    """Each ``--accept-policy`` override, in the journal of every cluster this apply
    may change, before the first write (as Atlantis records a policy approval)."""
    if plan.policy is None or not plan.policy.accepted:
        return
    for cp in plan.clusters:
        if not cp.has_changes:
            continue
        for result in plan.policy.accepted:
            record = {"action": "policy-override", "rule": result.qualified_rule,
                      "message": result.message, "plan_id": plan.plan_id,
                      "policy_digest": plan.policy.digest, "result": "accepted"}
            await asyncio.to_thread(store.append_journal, cp.name, record)


class _NoWaveLines:
    """A ``RolloutProgress`` that says nothing (callers that show no progress)."""

    def wave_started(self, wave: str, clusters: int, changing: int, parallel: int) -> None:
        return None

    def soak_started(self, wave: str, clusters: int, addons: int, soak_s: float) -> None:
        return None

    def wave_done(self, result: WaveResult) -> None:
        return None
