"""Apply a plan wave by wave (``Plan.rollout``): gates, soak, halt, pause, resume.

::

    for each wave, in order:
        journal wave-start ─▶ apply its clusters (run.apply, ≤ max_parallel at once)
        ─▶ soak: the add-ons it changed must stay healthy for ``soak``
        ─▶ gate: ≤ max_failures clusters failed, blocked or turned unhealthy?
              no  ─▶ halt (later waves untouched)
              yes ─▶ next wave, or stop here (pause, ``--wave``)

The per-cluster run is ``run.apply`` unchanged: a wave is the plan cut down to
its clusters. Resuming needs no memory of its own: re-running apply plans
again, the clusters of passed waves have nothing left to change and pass at
once, and the halted wave is retried. What a re-plan cannot see is a change
that was made but never passed its gate (the run was killed while soaking):
the ``wave-start`` journal record lists the add-ons a cluster is about to
change, and only a ``gate`` record with result ``passed`` settles it. A cluster
with such an open record is soaked again in its wave before the next wave
runs. The journal is used because every state backend has one
(``StateBackend.append_journal``) and the state file's schema is not ours.

A rollout holds the lock of every cluster of its plan from before the first
wave to the end (taken in name order, so two rollouts waiting on each other
can't deadlock). A second rollout of the same files is refused before it
writes anything, instead of taking a cluster between two waves of the first
and reporting that cluster's lock refusal as a failure its wave tolerated.
If it had to wait for the locks, the plan is checked again before any write:
what the first run changed makes it stale.

An open record is judged against the plan being applied (``judge_pending``),
not replayed as it was written: an add-on the files no longer declare present
is not soaked (a failed install the user has since removed must not halt the
wave again), and a ``close`` record settles it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.apply.records import utc_now
from reconciler.cloud import CloudError, CloudSession
from reconciler.engine.planner import declares_absent
from reconciler.model.apply import AddonResult, ApplyResult, ClusterResult, Outcome, Progress
from reconciler.model.live import READY_STATUSES
from reconciler.model.plan import Action, ClusterPlan, Plan
from reconciler.model.rollout import PauseMode, Rollout, Wave, assign_waves
from reconciler.model.rollout_result import (
    ClusterFailure,
    RolloutProgress,
    RolloutResult,
    RolloutStop,
    SoakOutcome,
    WaveResult,
    WaveStatus,
)
from reconciler.run.apply import ApplyOptions, apply_plan, stale_plan_reasons
from reconciler.statemgr import LockError, StateError
from reconciler.statemgr.actor import actor
from reconciler.statemgr.backend import StateBackend

__all__ = [
    "DEFAULT_SOAK_POLL_S",
    "RolloutError",
    "RolloutOptions",
    "apply_rollout",
    "check_wave_name",
    "judge_pending",
    "open_gates",
    "pending_gate",
    "waves_of",
]

DEFAULT_SOAK_POLL_S = 10.0
"""At most one health read per cluster this often while soaking."""

_WRITTEN = frozenset({Outcome.INSTALLED, Outcome.UPGRADED, Outcome.UPDATED, Outcome.REPAIRED,
                      Outcome.DOWNGRADED})
"""Outcomes that leave a freshly written instance behind: what a soak watches."""
_NOT_SOAKED = frozenset({Action.NOOP, Action.REFRESH, Action.DELETE})
_WORST_FIRST = (Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.BLOCKED, Outcome.SKIPPED)


class RolloutError(ValueError):
    """The plan's rollout can't be followed (a message for the user); raised
    before anything is written."""


@dataclass(frozen=True)
class RolloutOptions:
    pause: bool = False
    """``--pause``: stop after each wave that changed something, as ``pause: manual``."""
    until_wave: str = ""
    """``--wave NAME``: stop after this wave ("" runs them all)."""
    soak_poll_s: float = DEFAULT_SOAK_POLL_S


def check_wave_name(rollout: Rollout | None, name: str) -> None:
    """``ValueError`` (a message for the user) unless ``name`` is one of the waves."""
    if rollout is None:
        raise ValueError(f"--wave {name}: there is no `rollout:` block, so there are no waves")
    if rollout.wave(name) is None:
        known = ", ".join(w.name for w in rollout.waves)
        raise ValueError(f"--wave {name}: no such wave; the waves are: {known}")


def waves_of(plan: Plan) -> dict[str, str]:
    """Cluster → wave: ``cp.wave`` when the plan pinned it, else assigned from
    the plan's rollout and the cluster's labels. ``RolloutError`` for a cluster
    in no wave (config refuses such a file; a hand-edited plan could have one)."""
    assert plan.rollout is not None
    assigned = assign_waves(plan.rollout, [(cp.name, cp.labels) for cp in plan.clusters])
    found: dict[str, str] = {}
    for cp in plan.clusters:
        wave = cp.wave or assigned.get(cp.name, "")
        if plan.rollout.wave(wave) is None:
            known = ", ".join(w.name for w in plan.rollout.waves)
            raise RolloutError(f"cluster {cp.name} is in no wave of the rollout ({known}):"
                             " name it in a wave, or add a wave without `clusters:`")
        found[cp.name] = wave
    return found


def pending_gate(records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The add-ons of the cluster's last change that never passed its wave's gate
    (a ``wave-start`` with add-ons and no ``gate`` ``passed`` after it, less
    those a later ``close`` record dropped, and none once a ``state rm`` of the
    whole cluster forgot its state)."""
    pending: tuple[str, ...] = ()
    for record in records:
        kind = record.get("action")
        if kind == "wave-start" and record.get("addons"):
            pending = tuple(dict.fromkeys([*pending, *record["addons"]]))
        elif kind == "gate" and record.get("result") == "passed":
            pending = ()
        elif kind == "close":
            dropped = set(record.get("addons") or ())
            pending = tuple(a for a in pending if a not in dropped)
        elif kind == "state rm" and not record.get("addon"):
            # The whole state was forgotten (its journal is kept as the audit
            # trail): what a later state of this name awaits starts afresh.
            pending = ()
    return pending


def judge_pending(cp: ClusterPlan, pending: Sequence[str], *,
                  targeted: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split the add-ons awaiting their gate on ``cp``'s cluster into (soak them
    again, close them): the current plan decides, not the plan that wrote them.
    Closed: an add-on the plan deletes or has declared absent, one it lists live
    but undeclared, and one it does not mention at all, when the plan is
    complete enough to say so. A full plan has a change (no-ops included) for
    every declared add-on; a targeted (``--addon``) or refresh-only plan, or an
    add-on with a plan error, has none, so there absence proves nothing and the
    add-on is soaked as before."""
    planned = {c.addon: c for c in cp.changes}
    undeclared = set(cp.unmanaged) | set(cp.managed_undeclared)
    complete = (not targeted and not cp.errors
                and any(c.action is not Action.REFRESH for c in cp.changes))
    soak: list[str] = []
    close: list[str] = []
    for addon in pending:
        change = planned.get(addon)
        gone = declares_absent(change) if change is not None else (
            addon in undeclared or complete)
        (close if gone else soak).append(addon)
    return tuple(soak), tuple(close)


async def apply_rollout(
    plan: Plan,
    session: CloudSession,
    store: StateBackend,
    *,
    salts: Mapping[str, str],
    options: ApplyOptions,
    rollout_options: RolloutOptions,
    progress: Progress,
    waves_progress: RolloutProgress,
) -> RolloutResult:
    """Run ``plan`` wave by wave; never raises for a cluster's problems."""
    assert plan.rollout is not None
    run = _Rollout(plan, plan.rollout, session, store, salts, options, rollout_options,
                   progress, waves_progress)
    return await run.run()


class _Rollout:
    def __init__(self, plan: Plan, rollout: Rollout, session: CloudSession,
                 store: StateBackend, salts: Mapping[str, str], options: ApplyOptions,
                 rollout_options: RolloutOptions, progress: Progress,
                 waves_progress: RolloutProgress) -> None:
        self.plan = plan
        self.rollout = rollout
        self.session = session
        self.store = store
        self.salts = salts
        self.options = options
        self.ropts = rollout_options
        self.progress = progress
        self.waves_progress = waves_progress
        self.membership = waves_of(plan)

    async def run(self) -> RolloutResult:
        async with self._hold_fleet():
            return await self._run()

    @asynccontextmanager
    async def _hold_fleet(self) -> AsyncIterator[None]:
        """Hold every cluster's lock for the whole rollout (see the module's doc);
        ``RolloutError`` when one is held elsewhere or the wait made the plan stale.

        First every lock is tried at once (a remote store answers each in a round
        trip). Only if one is held elsewhere and ``--lock-timeout`` allows a wait
        are they all released and taken again one by one, in name order, so that
        two rollouts waiting for each other can't deadlock."""
        names = sorted(cp.name for cp in self.plan.clusters)
        async with AsyncExitStack() as stack:
            refused = await self._try_all(stack, names)
            if refused is not None and self.options.lock_timeout_s == 0:
                raise refused
            if refused is not None:
                await stack.aclose()
                for name in names:
                    try:
                        await stack.enter_async_context(self.store.lock_async(
                            name, "apply", timeout_s=self.options.lock_timeout_s))
                    except StateError as err:
                        raise _not_locked(name, err) from None
                reasons = await stale_plan_reasons(self.plan, self.session, self.store,
                                                   environ=self.options.environ)
                if reasons:
                    raise RolloutError(
                        "nothing was applied: while this rollout waited for the locks of its"
                        " clusters, another run changed them (" + "; ".join(reasons)
                        + "). Plan again: run the same apply again")
            self.options = dataclasses.replace(self.options, held=frozenset(names))
            yield

    async def _try_all(self, stack: AsyncExitStack, names: Sequence[str]) -> RolloutError | None:
        """Take every lock without waiting, into ``stack``; the first refusal, if any."""
        gate = asyncio.Semaphore(max(1, self.options.parallelism))

        async def one(name: str) -> None:
            async with gate:
                await stack.enter_async_context(self.store.lock_async(name, "apply"))

        # Every attempt runs to its end, so no lock is taken after the stack closed.
        outcomes = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, StateError):
                return _not_locked(name, outcome)
            if isinstance(outcome, BaseException):
                raise outcome
        return None

    async def _run(self) -> RolloutResult:
        started = time.monotonic()
        pause = self.ropts.pause or self.rollout.pause is PauseMode.MANUAL
        waves = self.rollout.waves
        done: list[WaveResult] = []
        applied: list[ClusterResult] = []
        stop, next_wave = RolloutStop.COMPLETED, ""
        for index, wave in enumerate(waves):
            result, clusters = await self._wave(wave)
            done.append(result)
            applied += clusters
            following = waves[index + 1].name if index + 1 < len(waves) else ""
            if result.status is WaveStatus.HALTED:
                stop, next_wave = RolloutStop.HALTED, wave.name
                break
            if not following:
                break
            if wave.name == self.ropts.until_wave:
                stop, next_wave = RolloutStop.UNTIL_WAVE, following
                break
            # A wave that had nothing to do is no milestone to approve: pausing
            # there would stop every resumed run at the first wave again.
            if pause and result.changed:
                stop, next_wave = RolloutStop.PAUSED, following
                break
        done += [WaveResult(name=w.name, status=WaveStatus.NOT_STARTED,
                            clusters=self._members(w.name), max_failures=w.max_failures,
                            soak_s=w.soak_s)
                 for w in waves[len(done):]]
        return RolloutResult(
            waves=tuple(done),
            stop=stop,
            apply=ApplyResult(plan_id=self.plan.plan_id, clusters=tuple(applied),
                              elapsed_s=time.monotonic() - started),
            next_wave=next_wave,
        )

    def _members(self, wave: str) -> tuple[str, ...]:
        return tuple(n for n, w in self.membership.items() if w == wave)

    async def _wave(self, wave: Wave) -> tuple[WaveResult, list[ClusterResult]]:
        started = time.monotonic()
        members = [cp for cp in self.plan.clusters if self.membership[cp.name] == wave.name]
        # An open gate is soaked in the wave this plan puts its cluster in, for
        # the add-ons this plan still declares present; the others are closed.
        pending: dict[str, tuple[str, ...]] = {}
        for cp, still_open in zip(members, await asyncio.gather(
                *(self._pending(cp.name) for cp in members)), strict=True):
            pending[cp.name], closed = judge_pending(cp, still_open,
                                                     targeted=bool(self.plan.targets))
            if closed:
                await self._journal(cp.name, "close", wave.name, "dropped", addons=closed,
                                    message="no longer declared present: not soaked, its"
                                            " open gate is closed")
        changing = {cp.name: _soaked_addons(cp) for cp in members if cp.has_changes}
        parallel = wave.max_parallel or self.options.parallelism
        self.waves_progress.wave_started(wave.name, len(members), len(changing), parallel)
        for name, addons in changing.items():
            await self._journal(name, "wave-start", wave.name, "started", addons=addons)

        # Once the failures exceed the budget the wave has failed: starting
        # more of its clusters would only spread a bad change further.
        failed_so_far: set[str] = set()
        held_back: set[str] = set()

        def admit(cp: ClusterPlan) -> str:
            if not cp.has_changes or len(failed_so_far) <= wave.max_failures:
                return ""
            held_back.add(cp.name)
            return (f"not started: wave {wave.name} already has {len(failed_so_far)} failed"
                    f" cluster(s), more than its max_failures {wave.max_failures}")

        sub = dataclasses.replace(self.plan, clusters=tuple(members))
        applied = await apply_plan(
            sub, self.session, self.store, salts=self.salts,
            options=dataclasses.replace(self.options, parallelism=parallel),
            progress=_CountingFailures(self.progress, failed_so_far, held_back), admit=admit,
        )
        failures = [f for c in applied.clusters
                    if c.name not in held_back and (f := _failure(c)) is not None]
        failed = {f.cluster for f in failures}
        # Soak what this run wrote, and what an earlier run wrote but never gated.
        to_soak: dict[str, set[str]] = {}
        for c in applied.clusters:
            written = {r.addon for r in c.addons if r.outcome in _WRITTEN}
            soaked = written | set(pending.get(c.name, ()))
            if soaked and c.name not in failed:
                to_soak[c.name] = soaked
        touched = sorted(set(changing) | {n for n, p in pending.items() if p} | failed)
        # Held back: planned, never started; their open wave-start is settled by
        # the run that applies them.

        if len(failed) > wave.max_failures:
            soak = SoakOutcome.NOT_RUN
        elif not to_soak:
            soak = SoakOutcome.NONE
        else:
            self.waves_progress.soak_started(wave.name, len(to_soak),
                                             sum(len(a) for a in to_soak.values()), wave.soak_s)
            soak_failures = await self._soak(wave, members, to_soak, len(failed))
            for name, soaked in to_soak.items():
                bad = [f for f in soak_failures if f.cluster == name]
                await self._journal(name, "soak", wave.name, "failed" if bad else "passed",
                                    addons=sorted(soaked), soak_s=wave.soak_s,
                                    message="; ".join(f"{f.addon}: {f.reason}" for f in bad))
            failures += soak_failures
            failed |= {f.cluster for f in soak_failures}
            soak = SoakOutcome.FAILED if soak_failures else SoakOutcome.PASSED

        passed = len(failed) <= wave.max_failures
        gate = (f"{len(failed)} of {len(members)} cluster(s) failed or were blocked"
                f" (at most {wave.max_failures} tolerated); soak {soak.value}")
        for name in touched:
            # "failed": the wave passed without this cluster; its change stays
            # open (pending_gate) and is soaked again when it is next applied.
            verdict = "halted" if not passed else "failed" if name in failed else "passed"
            await self._journal(name, "gate", wave.name, verdict, message=gate)
            if not passed:
                await self._journal(name, "halt", wave.name, "halted",
                                    message="later waves were not started; fix the cause"
                                            " and run apply again to retry this wave")
        result = WaveResult(
            name=wave.name,
            status=WaveStatus.PASSED if passed else WaveStatus.HALTED,
            clusters=tuple(cp.name for cp in members),
            changed=tuple(sorted(set(changing) - held_back | set(to_soak))),
            failures=tuple(failures),
            held_back=tuple(sorted(held_back)),
            max_failures=wave.max_failures,
            soak_s=wave.soak_s,
            soak=soak,
            elapsed_s=time.monotonic() - started,
        )
        self.waves_progress.wave_done(result)
        return result, list(applied.clusters)

    async def _soak(self, wave: Wave, members: Sequence[ClusterPlan],
                    to_soak: Mapping[str, set[str]], failed_already: int) -> list[ClusterFailure]:
        """Watch ``to_soak`` for ``wave.soak_s`` from now: one list read per cluster
        at the start, then evenly spaced no closer than ``soak_poll_s``, and at the
        end. An instance not running/available (or gone) fails its cluster."""
        by_name = {cp.name: cp for cp in members}
        watching = dict(to_soak)
        failures: list[ClusterFailure] = []
        # Evenly spaced checks, never closer than the poll interval (a soak
        # shorter than it is checked only at its start and end).
        steps = max(1, math.floor(wave.soak_s / self.ropts.soak_poll_s))
        start = time.monotonic()
        for step in range(steps + 1):
            if step:
                await asyncio.sleep(max(0.0, start + wave.soak_s * step / steps
                                        - time.monotonic()))
            final = step == steps
            found = await asyncio.gather(*(self._check(by_name[n], a, final=final)
                                           for n, a in watching.items()))
            for name, bad in zip(list(watching), found, strict=True):
                if bad:
                    failures += bad
                    del watching[name]
            if not watching or failed_already + len({f.cluster for f in failures}) \
                    > wave.max_failures:
                break  # the gate has already failed: waiting on could not save it
            if wave.soak_s <= 0:
                break
        return failures

    async def _check(self, cp: ClusterPlan, addons: set[str], *,
                     final: bool) -> list[ClusterFailure]:
        client = self.session.client(cp.endpoint, cp.region, cp.project_id)
        try:
            instances = {i.template_name: i for i in await client.list_instances(cp.cluster_id)}
        except CloudError as err:
            # A flaky read is not an unhealthy add-on, unless it is the last look.
            if not final:
                return []
            return [ClusterFailure(cp.name, a, f"its health could not be read at the end of"
                                   f" the soak: {err}", during_soak=True) for a in sorted(addons)]
        bad = []
        for addon in sorted(addons):
            instance = instances.get(addon)
            if instance is None:
                bad.append(ClusterFailure(cp.name, addon, "the instance disappeared during"
                                          " the soak", during_soak=True))
            elif instance.status.status not in READY_STATUSES:
                details = [f"Reason: {instance.status.reason}"] if instance.status.reason else []
                details += [f"message: {instance.status.message}"] \
                    if instance.status.message else []
                extra = f" ({'; '.join(details)})" if details else ""
                bad.append(ClusterFailure(cp.name, addon, f"turned {instance.status.status}"
                                          f" during the soak{extra}", during_soak=True))
        return bad

    async def _pending(self, cluster: str) -> tuple[str, ...]:
        try:
            records = await asyncio.to_thread(self.store.read_journal, cluster)
        except StateError:
            return ()  # an unreadable journal is reported by the apply's own state reads
        return pending_gate(records)

    async def _journal(self, cluster: str, kind: str, wave: str, result: str, *,
                       addons: Sequence[str] = (), soak_s: float | None = None,
                       message: str = "") -> None:
        # Names and outcomes only: a record never holds values (they may be secret).
        record: dict[str, Any] = {
            "time": utc_now(), "actor": actor(), "cluster": cluster, "addon": "", "action": kind,
            "wave": wave,
            "result": result, "addons": list(addons), "message": message,
            "plan_id": self.plan.plan_id,
        }
        if soak_s is not None:
            record["soak_s"] = soak_s
        await asyncio.to_thread(self.store.append_journal, cluster, record)


class _CountingFailures:
    """The apply's ``Progress``, passed through, noting each cluster that failed
    as it finishes (what ``admit`` decides on)."""

    def __init__(self, inner: Progress, failed: set[str], held_back: set[str]) -> None:
        self.inner, self.failed, self.held_back = inner, failed, held_back

    def step(self, cluster: str, text: str) -> None:
        self.inner.step(cluster, text)

    def addon_done(self, result: AddonResult) -> None:
        self.inner.addon_done(result)

    def cluster_done(self, result: ClusterResult) -> None:
        if result.name not in self.held_back and _failure(result) is not None:
            self.failed.add(result.name)
        self.inner.cluster_done(result)

    def close(self) -> None:
        self.inner.close()


def _not_locked(name: str, err: StateError) -> RolloutError:
    if isinstance(err, LockError):
        return RolloutError(
            f"nothing was applied: a rollout holds every cluster of its plan, and {err}")
    return RolloutError(f"nothing was applied: cannot lock cluster {name}: {err}")


def _soaked_addons(cp: ClusterPlan) -> list[str]:
    """The add-ons a cluster's plan will write and leave an instance of."""
    return [c.addon for c in cp.changes if c.action not in _NOT_SOAKED
            and not (c.action is Action.ADOPT and not c.field_changes)]


def _failure(result: ClusterResult) -> ClusterFailure | None:
    """Why a cluster counts as failed (its worst add-on), or None."""
    if result.error:
        return ClusterFailure(result.name, "", result.error)
    for outcome in _WORST_FIRST:
        bad = next((r for r in result.addons if r.outcome is outcome), None)
        if bad is not None:
            why = f"{bad.action.value} {bad.outcome.value}" + (f": {bad.message}"
                                                               if bad.message else "")
            return ClusterFailure(result.name, bad.addon, why)
    return None


async def open_gates(plan: Plan, store: StateBackend) -> list[str]:
    """Clusters of ``plan`` whose last change never passed its gate (to re-soak
    even when nothing is left to change)."""

    async def one(name: str) -> bool:
        try:
            return bool(pending_gate(await asyncio.to_thread(store.read_journal, name)))
        except StateError:
            return False

    names = [cp.name for cp in plan.clusters]
    return [n for n, pending in zip(names, await asyncio.gather(*(one(n) for n in names)),
                                    strict=True) if pending]
