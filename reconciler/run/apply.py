"""Apply a plan: the side-effect shell around a ``Plan`` (docs/planning.md, "How apply proceeds").

Clusters run in parallel (bounded by ``parallelism``); within a cluster, one
add-on at a time in ``ClusterPlan.changes`` order::

    lock ─▶ re-read state + live ─▶ fresh? ─▶ local checks ─▶ server precheck
         ─▶ for each change: write (full values) ─▶ wait healthy ─▶ state + journal

A change on an instance that is mid-operation (a killed apply's write, a
console upgrade) first waits for that operation to settle, within the
add-on's timeout, then is re-planned against what it settled to
(engine/replan.py) instead of failing. A blocked or failed add-on stops its
dependents, never its independent siblings. The state file is written after
*each* add-on and a journal line appended, so a crash loses at most the
add-on in flight, and that one is found live by the next plan (an instance
not in state is adopted).

This module is the run; the writes and waits themselves (and the rollback of
a failed upgrade) are apply/writes.py's ``AddonWriter``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field

from reconciler.apply.freshness import stale_reasons, with_real_values
from reconciler.apply.records import journal_record, managed_addon
from reconciler.apply.waiting import AddonFailure, WaitPolicy
from reconciler.apply.writes import REPAIR_GUIDANCE, AddonWriter
from reconciler.cloud import CceClient, CloudError, CloudSession
from reconciler.engine.checks import install_problem
from reconciler.engine.replan import replan_settled
from reconciler.model.apply import (
    DONE_BY_ACTION,
    AddonResult,
    ApplyResult,
    ClusterResult,
    Outcome,
    Progress,
)
from reconciler.model.live import (
    IN_PROGRESS_STATUSES,
    AddonInstance,
    AddonTemplate,
    Cluster,
)
from reconciler.model.plan import Action, Change, ClusterPlan, FindingLevel, Plan, PrecheckFinding
from reconciler.model.state import StateFile
from reconciler.run.prechecks import (
    DEFAULT_PRECHECK_TIMEOUT_S,
    PrecheckOutcome,
    needs_server_precheck,
    precheck_cluster,
)
from reconciler.statemgr import LockError, StateError
from reconciler.statemgr.backend import StateBackend

__all__ = ["ApplyOptions", "apply_plan", "stale_plan_reasons"]


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 10
    """Clusters applied at once."""
    lock_timeout_s: float = 0.0
    """0 fails at once if a cluster is locked; > 0 waits that long."""
    accept_risks: Mapping[str, Mapping[str, Collection[str]]] = field(default_factory=dict)
    """Cluster → add-on → Warning risks accepted on the command line."""
    wait: WaitPolicy = field(default_factory=WaitPolicy)
    precheck_timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S
    environ: Mapping[str, str] | None = None
    """Where ``secret()`` values of a saved plan are re-read (default: os.environ)."""
    held: frozenset[str] = frozenset()
    """Clusters whose lock the caller already holds (a rollout holds its whole
    fleet): their runs don't take it again."""


TemplatesFn = Callable[[CceClient, ClusterPlan], Awaitable[Mapping[str, AddonTemplate]]]
AdmitFn = Callable[[ClusterPlan], str]
"""Asked as each cluster's turn comes: "" to apply it, else why it is not started."""


async def apply_plan(
    plan: Plan,
    session: CloudSession,
    store: StateBackend,
    *,
    salts: Mapping[str, str],
    options: ApplyOptions,
    progress: Progress,
    admit: AdmitFn | None = None,
) -> ApplyResult:
    """Execute ``plan``; never raises for a cluster's problems (see the result).
    ``admit`` may hold clusters back that have not started yet (a rollout wave
    whose failure budget is spent): they end with that reason as their error."""
    started = time.monotonic()
    gate = asyncio.Semaphore(options.parallelism)
    catalogues: dict[tuple[str, str, str], asyncio.Task[Mapping[str, AddonTemplate]]] = {}

    async def templates(client: CceClient, cp: ClusterPlan) -> Mapping[str, AddonTemplate]:
        # One template list per endpoint per run, shared by its clusters.
        key = (cp.endpoint, cp.region, cp.project_id)
        if key not in catalogues:
            catalogues[key] = asyncio.ensure_future(_list_templates(client))
        return await catalogues[key]

    async def one(cp: ClusterPlan) -> ClusterResult:
        async with gate:
            refused = admit(cp) if admit is not None else ""
            if refused:
                held = ClusterResult(name=cp.name, error=refused)
                progress.cluster_done(held)
                return held
            client = session.client(cp.endpoint, cp.region, cp.project_id)
            run = _ClusterRun(cp, plan.plan_id, client, store, salts.get(cp.name), options,
                              progress, templates)
            result = await run.run()
            progress.cluster_done(result)
            return result

    results = await asyncio.gather(*(one(cp) for cp in plan.clusters))
    return ApplyResult(
        plan_id=plan.plan_id, clusters=tuple(results), elapsed_s=time.monotonic() - started
    )


async def stale_plan_reasons(
    plan: Plan,
    session: CloudSession,
    store: StateBackend,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Why a saved plan can't be applied as it is (empty: fresh), checked for
    every cluster before any is changed; apply checks again under each lock."""

    async def one(cp: ClusterPlan) -> list[str]:
        if any(d.severity == "error" for d in cp.errors) or not cp.has_changes:
            return []
        client = session.client(cp.endpoint, cp.region, cp.project_id)
        try:
            state = store.read(cp.name)
            instances = await client.list_instances(cp.cluster_id)
        except (StateError, CloudError) as err:
            return [f"cluster {cp.name}: cannot check: {err}"]
        reasons = stale_reasons(cp, state, instances, cp.salt or None)
        if not reasons:
            live = {i.template_name: i for i in instances}
            env = environ if environ is not None else os.environ
            reasons = with_real_values(cp, state, live, cp.salt or None, env)[1]
        return reasons

    return [r for found in await asyncio.gather(*(one(cp) for cp in plan.clusters)) for r in found]


async def _list_templates(client: CceClient) -> Mapping[str, AddonTemplate]:
    return {t.name: t for t in await client.list_templates()}


class _ClusterRun:
    """One cluster's apply; holds what its steps share."""

    def __init__(
        self,
        cp: ClusterPlan,
        plan_id: str,
        client: CceClient,
        store: StateBackend,
        salt: str | None,
        options: ApplyOptions,
        progress: Progress,
        templates: TemplatesFn,
    ) -> None:
        self.cp = cp
        self.plan_id = plan_id
        self.client = client
        self.store = store
        self.salt = salt
        self.options = options
        self.progress = progress
        self.templates = templates
        self.writer = AddonWriter(client, cp.cluster_id, cp.name, options.wait, progress)
        self.results: list[AddonResult] = []
        self.started = time.monotonic()

    def _done(self, error: str = "") -> ClusterResult:
        return ClusterResult(
            name=self.cp.name,
            addons=tuple(self.results),
            error=error,
            elapsed_s=time.monotonic() - self.started,
        )

    async def run(self) -> ClusterResult:
        cp = self.cp
        errors = [d for d in cp.errors if d.severity == "error"]
        if errors:
            # The planner leaves an erroneous add-on out of the changes; applying
            # the rest could break its dependents, so the cluster waits for a fix.
            return self._done("the plan has errors for this cluster: "
                              + "; ".join(str(d) for d in errors))
        if not cp.has_changes:
            return self._done()
        if cp.name in self.options.held:
            return await self._guarded()
        self.progress.step(cp.name, "waiting for the state lock")
        lock = self.store.lock_async(
            cp.name, operation="apply", timeout_s=self.options.lock_timeout_s
        )
        try:
            async with lock:
                return await self._guarded()
        except LockError as err:
            return self._done(str(err))
        except StateError as err:  # the state directory refused before the lock was taken
            return self._done(f"state: {err}")

    async def _guarded(self) -> ClusterResult:
        # Under the cluster's lock (taken here or held by the caller).
        try:
            return await self._locked()
        except StateError as err:
            return self._done(f"state: {err}")
        except CloudError as err:
            return self._done(f"cannot read or change the cluster: {err}")

    async def _locked(self) -> ClusterResult:
        cp = self.cp
        self.progress.step(cp.name, "reading live state")
        state = self.store.read(cp.name)
        cluster, instances = await asyncio.gather(
            self.client.get_cluster(cp.cluster_id), self.client.list_instances(cp.cluster_id)
        )
        reasons = stale_reasons(cp, state, instances, self.salt)
        if reasons:
            return self._done("plan is stale: " + "; ".join(reasons) + ". Plan again.")
        live = {i.template_name: i for i in instances}
        environ = self.options.environ if self.options.environ is not None else os.environ
        changes, problems = with_real_values(cp, state, live, self.salt, environ)
        if problems:
            return self._done("plan is stale: " + "; ".join(problems) + ". Plan again.")
        if state is None:
            # A salt of its own, not the plan's: the plan's was published in
            # the plan file, and the state's must never be (model.sensitive).
            state = self.store.new(cp.name, cp.cluster_id, cp.project_id)

        blocked = await self._local_checks(cluster, changes)
        settled = await self._settle_before_precheck(changes, live, blocked, state.salt)
        outcome = await self._server_precheck(
            [settled[c.addon][0] if c.addon in settled else c for c in changes], blocked)

        stopped: dict[str, str] = {}
        for change in changes:
            if change.action is Action.NOOP:
                continue
            if change.action is Action.REFRESH:
                # State only: nothing is sent, so no check or dependency stops it.
                result, state = await self._refresh(change, live.get(change.addon), state)
                await self._record(result)
                continue
            bad_deps = [d for d in change.depends_on if d in stopped]
            if change.addon in blocked:
                result = self._result(change, Outcome.BLOCKED, blocked[change.addon], outcome)
            elif bad_deps:
                why = ", ".join(f"{d} ({stopped[d]})" for d in bad_deps)
                result = self._result(change, Outcome.SKIPPED, f"depends on {why}", outcome)
            else:
                result, state = await self._execute(change, live.get(change.addon), state, outcome,
                                                    settled.get(change.addon))
            if not result.outcome.ok:
                stopped[change.addon] = result.outcome.value
            await self._record(result)
        return self._done()

    async def _local_checks(self, cluster: Cluster, changes: list[Change]) -> dict[str, str]:
        """Add-on → why it may not be written, from checks that need no server precheck."""
        blocked: dict[str, str] = {}
        writes = [c for c in changes if c.action not in (Action.NOOP, Action.REFRESH)]
        if cluster.phase != "Available":
            for c in writes:
                if c.action is not Action.ADOPT or c.field_changes:
                    blocked[c.addon] = (
                        f"the cluster is {cluster.phase}; add-ons can only be changed while it"
                        " is Available"
                    )
        installs = [c for c in writes if c.action is Action.INSTALL and c.addon not in blocked]
        if not installs:
            return blocked
        catalogue = await self.templates(self.client, self.cp)
        for c in installs:
            problem = install_problem(c, cluster, catalogue)
            if problem:
                blocked[c.addon] = problem
        return blocked

    async def _server_precheck(
        self, changes: list[Change], blocked: dict[str, str]
    ) -> PrecheckOutcome:
        to_check = [c for c in changes if needs_server_precheck(c) and c.addon not in blocked]
        if not to_check:
            return PrecheckOutcome()
        names = ", ".join(c.addon for c in to_check)
        self.progress.step(self.cp.name, f"prechecking {names}")
        cli_accept = self.options.accept_risks.get(self.cp.name, {})
        accept = {
            c.addon: set(c.precheck_accept) | set(cli_accept.get(c.addon, ()))
            for c in to_check
        }
        try:
            outcome = await precheck_cluster(
                self.client,
                self.cp.cluster_id,
                to_check,
                accept=accept,
                timeout_s=self.options.precheck_timeout_s,
                poll_interval_s=self.options.wait.poll_interval_s,
            )
        except CloudError as err:
            for c in to_check:
                blocked[c.addon] = f"the server precheck could not run: {err}"
            return PrecheckOutcome()
        for c in to_check:
            blocking = [f for f in outcome.findings if f.addon == c.addon and f.blocking]
            if blocking:
                blocked[c.addon] = "precheck: " + "; ".join(
                    _blocking_text(self.cp.name, c.addon, f) for f in blocking)
            await self._journal(
                journal_record(
                    cluster=self.cp.name,
                    addon=c.addon,
                    action="precheck",
                    result="blocked" if blocking else "passed",
                    plan_id=self.plan_id,
                    from_version=c.before_version,
                    to_version=c.after_version,
                    instance_id=c.instance_id,
                    precheck_task_ids=outcome.task_ids.get(c.addon, ()),
                    accepted_risks=outcome.accepted_risks(c.addon),
                    message=blocked.get(c.addon, ""),
                )
            )
        return outcome

    async def _refresh(
        self, change: Change, instance: AddonInstance | None, state: StateFile
    ) -> tuple[AddonResult, StateFile]:
        """Record the live instance as the add-on's state (or forget one that is
        gone), sending nothing. The plan was checked fresh under this lock, so
        live is what the plan showed; the entry is written the way every
        apply writes one, which is what drift compares live with."""
        if instance is None:
            if change.addon in state.addons:
                state = await asyncio.to_thread(self.store.remove_addon, state, change.addon)
            return self._result(change, Outcome.REFRESHED, "", PrecheckOutcome()), state
        state = await asyncio.to_thread(
            self.store.put_addon,
            state,
            managed_addon(
                name=change.addon,
                uid=instance.uid,
                version=instance.version,
                values=instance.values,
                sensitive_paths=change.sensitive_paths,
                salt=state.salt,
                plan_id=self.plan_id,
            ),
        )
        return self._result(change, Outcome.REFRESHED, "", PrecheckOutcome()), state

    async def _journal(self, record: Mapping[str, object]) -> None:
        # State and journal writes fsync: off the event loop, so that a hundred
        # clusters finishing together don't queue behind each other's disk.
        await asyncio.to_thread(self.store.append_journal, self.cp.name, record)

    def _result(
        self,
        change: Change,
        outcome: Outcome,
        message: str,
        precheck: PrecheckOutcome,
        started: float | None = None,
    ) -> AddonResult:
        return AddonResult(
            cluster=self.cp.name,
            addon=change.addon,
            action=change.action,
            outcome=outcome,
            message=message,
            from_version=change.before_version,
            to_version=change.after_version,
            elapsed_s=time.monotonic() - started if started is not None else 0.0,
            precheck_task_ids=tuple(precheck.task_ids.get(change.addon, ())),
            accepted_risks=precheck.accepted_risks(change.addon),
            adopting=change.adopting or change.action is Action.ADOPT,
        )

    async def _record(self, result: AddonResult) -> None:
        self.results.append(result)
        instance_id = next(
            (c.instance_id for c in self.cp.changes if c.addon == result.addon), ""
        )
        await self._journal(
            journal_record(
                cluster=result.cluster,
                addon=result.addon,
                action=result.action.value,
                result=result.outcome.value,
                plan_id=self.plan_id,
                from_version=result.from_version,
                to_version=result.to_version,
                instance_id=instance_id,
                precheck_task_ids=result.precheck_task_ids,
                accepted_risks=result.accepted_risks,
                message=result.message or _journal_note(result),
            )
        )
        self.progress.addon_done(result)

    async def _execute(
        self,
        change: Change,
        instance: AddonInstance | None,
        state: StateFile,
        precheck: PrecheckOutcome,
        settled: tuple[Change, AddonInstance] | None = None,
    ) -> tuple[AddonResult, StateFile]:
        started = time.monotonic()
        planned = change
        if settled is not None:
            change, instance = settled  # waited for and re-planned before the precheck
        elif instance is not None and instance.status.status in IN_PROGRESS_STATUSES:
            try:
                instance = await self._settle(change, instance)
            except (AddonFailure, CloudError) as err:
                return self._result(change, Outcome.FAILED, str(err), precheck, started), state
            replanned = replan_settled(change, instance, salt=state.salt)
            if isinstance(replanned, str):
                message = f"{replanned}; plan again"
                return self._result(change, Outcome.FAILED, message, precheck, started), state
            change = replanned
            if change.action is Action.NOOP:  # a delete the operation already did
                if change.addon in state.addons:
                    state = await asyncio.to_thread(self.store.remove_addon, state, change.addon)
                return self._result(planned, Outcome.DELETED, change.reason, precheck,
                                    started), state
        try:
            written = await self.writer.write(change, instance)
        except AddonFailure as err:
            outcome, message = await self.writer.after_failure(change, err)
            return self._result(change, outcome, message, precheck, started), state
        except CloudError as err:
            message = str(err)
            if change.action is Action.REPAIR:
                message += f"; {REPAIR_GUIDANCE}"
            return self._result(change, Outcome.FAILED, message, precheck, started), state
        if written is None:  # deleted
            if change.addon in state.addons:
                state = await asyncio.to_thread(self.store.remove_addon, state, change.addon)
            return self._result(change, Outcome.DELETED, "", precheck, started), state
        values = change.values if written is not instance else written.values
        entry = managed_addon(
            name=change.addon,
            uid=written.uid,
            version=written.version or change.after_version,
            values=values,
            sensitive_paths=change.sensitive_paths,
            salt=state.salt,
            plan_id=self.plan_id,
            precheck_task_ids=precheck.task_ids.get(change.addon, ()),
            accepted_risks=precheck.accepted_risks(change.addon),
        )
        state = await asyncio.to_thread(self.store.put_addon, state, entry)
        if change is not planned and written is instance:
            # The operation in flight already did what the plan asked: say so,
            # under the action the plan showed.
            message = "" if planned.action is Action.ADOPT else "done by the operation in flight"
            return self._result(planned, DONE_BY_ACTION[planned.action], message, precheck,
                                started), state
        outcome = DONE_BY_ACTION[change.action]
        if change.action is Action.ADOPT and change.field_changes:
            outcome = Outcome.UPDATED  # an adopt of an older plan that wrote
        return self._result(change, outcome, "", precheck, started), state

    async def _settle_before_precheck(
        self,
        changes: list[Change],
        live: dict[str, AddonInstance],
        blocked: dict[str, str],
        salt: str,
    ) -> dict[str, tuple[Change, AddonInstance]]:
        """Add-on → (re-planned change, settled instance) for each write that needs a
        server precheck on an instance mid-operation. The precheck of a busy
        instance answers "addon status(upgrading) is not running" and blocks the
        write the plan promised to make after the wait, so wait first. A wait or
        re-plan that fails is left to ``_execute``, which waits again and reports it."""
        settled: dict[str, tuple[Change, AddonInstance]] = {}
        for change in changes:
            instance = live.get(change.addon)
            if (instance is None or change.addon in blocked
                    or instance.status.status not in IN_PROGRESS_STATUSES
                    or not needs_server_precheck(change)):
                continue
            try:
                now = await self._settle(change, instance)
            except (AddonFailure, CloudError):
                continue
            replanned = replan_settled(change, now, salt=salt)
            if now is not None and not isinstance(replanned, str):
                settled[change.addon] = (replanned, now)
        return settled

    async def _settle(self, change: Change, instance: AddonInstance) -> AddonInstance | None:
        """Wait for the operation in flight on ``instance`` (bounded by the
        add-on's timeout, with a progress line); the instance it settled to."""
        self.progress.step(
            self.cp.name,
            f"{change.addon}: waiting for the operation in flight ({instance.status.status})",
        )
        return await self.writer.settle(change, instance.uid)

def _journal_note(result: AddonResult) -> str:
    """What the journal says beside an outcome that carries no message."""
    if result.outcome is Outcome.REFRESHED:
        if not result.to_version:
            return "the instance is gone: its state entry was removed; nothing was sent"
        return "recorded the live add-on into the state; nothing was sent"
    if result.adopting and result.action is not Action.ADOPT and result.outcome.ok:
        return "also took the instance under management (adopted)"
    return ""


def _blocking_text(cluster: str, addon: str, finding: PrecheckFinding) -> str:
    """A blocking risk and what would let the write go: for a Warning, the exact
    flag; for a Fatal risk, that no flag will (the cause must be fixed)."""
    message = f": {finding.message}" if finding.message else ""
    if finding.level is FindingLevel.WARNING:
        return (f"{finding.risk} (Warning, not accepted){message}; after review, accept it"
                f" with --accept-risk {cluster}/{addon}:{finding.risk} (or `precheck:"
                f" accept: [{finding.risk}]` in the file)")
    return (f"{finding.risk} (Fatal: cannot be accepted){message}; fix what it reports,"
            " then apply again")
