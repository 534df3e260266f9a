"""Drift detection: plan mode for cron — refresh, compare, report, change nothing.

The I/O shell around ``reconciler.engine.drift``: the same refresh as
``plan`` (``run.refresh``), the state files read (never written or locked),
the planner run over them, and with ``inspect`` one running-add-on inspection
(``addonStatic`` precheck) per cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.cloud import CceClient, CloudError, CloudSession, PrecheckItem
from reconciler.engine import cluster_waves, plan_changes
from reconciler.engine.drift import cluster_drift
from reconciler.kit.polling import PollTimeout, poll_until
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.drift import ClusterDrift, DriftReport
from reconciler.model.live import AddonPrecheckTask, AddonTemplate, LiveCluster
from reconciler.model.plan import ClusterPlan, FindingLevel, FindingStatus, PrecheckFinding
from reconciler.model.state import StateFile
from reconciler.run.refresh import client_for, endpoint_key, read_states, refresh, templates_for
from reconciler.statemgr.backend import StateBackend

__all__ = ["INSPECT_TIMEOUT_S", "detect_drift", "drift_flow", "inspect_cluster"]

INSPECT_TIMEOUT_S = 300.0


async def drift_flow(
    desired: DesiredState, session: CloudSession, store: StateBackend, *, inspect: bool
) -> DriftReport:
    """``reconciler drift``: ``detect_drift`` within ``session``, which it closes."""
    async with session:
        return await detect_drift(desired, session, store, inspect=inspect)


async def detect_drift(
    desired: DesiredState,
    session: CloudSession,
    store: StateBackend,
    *,
    inspect: bool = False,
    now: datetime | None = None,
    inspect_timeout_s: float = INSPECT_TIMEOUT_S,
    poll_interval_s: float = 1.0,
) -> DriftReport:
    """Refresh every selected cluster, read (never write) its state file and
    report its drift. Nothing is written to the cloud or the state directory
    (``inspect`` creates inspection tasks, which change no add-on)."""
    generated_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # States first: their recorded sensitive paths must be known before the
    # live bodies are logged (``-vv``), so the live values there are masked.
    states, state_errors = read_states(desired, store)
    refreshed = await refresh(desired, session)
    live: dict[str, LiveCluster | Diagnostic] = {**refreshed.live, **state_errors}

    plans: dict[str, ClusterPlan] = {}
    templates_of: dict[str, Mapping[str, AddonTemplate]] = {}
    waves = cluster_waves(desired)  # over every selected cluster, as plan assigns them
    for spec in desired.clusters:
        templates = templates_for(spec, refreshed.templates[endpoint_key(spec)])
        if isinstance(templates, Diagnostic):
            live[spec.name] = templates
            templates = {}
        templates_of[spec.name] = templates
        # One cluster at a time: the planner is pure and cheap; drift is a plan mode.
        plan = plan_changes(
            dataclasses.replace(desired, clusters=(spec,)), {spec.name: live[spec.name]},
            templates, {spec.name: states[spec.name]}, plan_id="drift",
            tool_version=__version__)
        plans[spec.name] = dataclasses.replace(plan.clusters[0],
                                               wave=waves.get(spec.name, ""))

    async def one(spec: ClusterSpec) -> ClusterDrift:
        cluster_live = live[spec.name]
        state = states[spec.name]
        risks: Mapping[str, Sequence[PrecheckFinding]] = {}
        problem: Diagnostic | None = None
        if inspect and isinstance(cluster_live, LiveCluster) and state is not None:
            try:
                risks = await inspect_cluster(
                    client_for(session, spec), cluster_live, state,
                    timeout_s=inspect_timeout_s, poll_interval_s=poll_interval_s)
            except CloudError as err:
                problem = _inspect_error(spec, err)
        found = cluster_drift(spec, cluster_live, templates_of[spec.name], state,
                              plans[spec.name], risks=risks)
        return dataclasses.replace(found, errors=(*found.errors, problem)) if problem else found

    clusters = await asyncio.gather(*(one(spec) for spec in desired.clusters))
    return DriftReport(clusters=tuple(clusters), generated_at=generated_at,
                       tool_version=__version__, inspected=inspect)


def _inspect_error(spec: ClusterSpec, err: CloudError) -> Diagnostic:
    loc = spec.location
    return Diagnostic(file=loc.file if loc else "", line=loc.line if loc else 0,
                      column=loc.column if loc else 0, key_path=f"clusters.{spec.name}",
                      message=f"cannot inspect the add-ons of cluster {spec.cluster_id}: {err}")


async def inspect_cluster(
    client: CceClient,
    live: LiveCluster,
    state: StateFile,
    *,
    timeout_s: float = INSPECT_TIMEOUT_S,
    poll_interval_s: float = 1.0,
) -> dict[str, tuple[PrecheckFinding, ...]]:
    """Run the server's running-add-on inspection (``addonStatic``) on the
    managed add-ons that are live; their failed checks, by add-on.

    One POST for the cluster, then one task list per poll until every task
    has finished; a task still unfinished at the deadline is a finding.
    """
    managed = [i for i in live.instances
               if (r := state.addons.get(i.template_name)) is not None and r.uid == i.uid]
    if not managed:
        return {}
    items = [PrecheckItem(template_name=i.template_name, instance_id=i.uid, type="addonStatic")
             for i in managed]
    tasks = {t.task_id: t for t in await client.create_addon_precheck(live.cluster.id, items)}

    async def fetch() -> dict[str, AddonPrecheckTask]:
        listed = await client.list_addon_precheck_tasks(live.cluster.id, type="addonStatic")
        tasks.update({t.task_id: t for t in listed if t.task_id in tasks})
        return tasks

    def finished(current: Mapping[str, AddonPrecheckTask]) -> bool:
        return all(t.finished for t in current.values())

    if not finished(tasks):
        # A task still unfinished at the deadline is reported below, not raised.
        with contextlib.suppress(PollTimeout):
            await poll_until(fetch, finished, deadline=time.monotonic() + timeout_s,
                             interval=poll_interval_s)
    out: dict[str, tuple[PrecheckFinding, ...]] = {}
    for task in tasks.values():
        found = _findings(task, timeout_s)
        if found:
            out[task.template_name] = out.get(task.template_name, ()) + found
    return out


def _findings(task: AddonPrecheckTask, timeout_s: float) -> tuple[PrecheckFinding, ...]:
    addon = task.template_name
    if not task.finished:
        return (PrecheckFinding(addon=addon, risk="InspectionTimeout", level=FindingLevel.WARNING,
                                status=FindingStatus.FAILED, task_id=task.task_id,
                                message=f"inspection task {task.task_id} did not finish within "
                                f"{timeout_s:g}s (last status {task.status})"),)
    found = tuple(PrecheckFinding(addon=addon, risk=r.name, level=FindingLevel.of_risk(r.level),
                                  status=FindingStatus.FAILED,
                                  message=r.message, task_id=task.task_id)
                  for r in task.risks if r.status == "Failed")
    if task.status == "Failed" and not found:
        found = (PrecheckFinding(addon=addon, risk="InspectionFailed", level=FindingLevel.WARNING,
                                 status=FindingStatus.FAILED, task_id=task.task_id,
                                 message=task.message or "the inspection failed without a risk"),)
    return found
