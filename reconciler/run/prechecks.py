"""The mandatory server prechecks (docs/planning.md, "Checks before anything
is written"), and cluster upgrade readiness.

* Add-on precheck: one ``POST …/addons/precheck`` per cluster listing every
  add-on about to be upgraded or updated (full values), then each task is
  polled — never more than one request per task per ``poll_interval_s`` — until
  ``Success`` or ``Failed``. A task that never finishes is a blocking finding.
* Risk policy: ``Fatal`` always blocks; ``Warning`` blocks unless accepted
  (``precheck.accept`` in the file, or ``--accept-risk CLUSTER/ADDON:Risk``).
* Readiness: reuse an unexpired cluster pre-upgrade check for the same target,
  or create one, and report its add-on items.

Used by ``plan --precheck`` (findings shown to reviewers) and by apply (where
they decide what proceeds). No flag skips them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.apply.ambiguous import retry_ambiguous
from reconciler.cloud import CceClient, PrecheckItem
from reconciler.kit.polling import PollTimeout, poll_until
from reconciler.model.desired import AddonSpec
from reconciler.model.live import (
    AddonPrecheckTask,
    AddonTemplate,
    Cluster,
    ClusterPrecheckTask,
)
from reconciler.model.plan import (
    Action,
    Change,
    FindingLevel,
    FindingStatus,
    PrecheckFinding,
    ReadinessItem,
    ReadinessReport,
)

__all__ = [
    "STATUS_RISK",
    "PrecheckOutcome",
    "blocked_addons",
    "implied_accepts",
    "needs_server_precheck",
    "parse_accept_risks",
    "precheck_cluster",
    "run_addon_prechecks",
    "run_readiness_check",
]

DEFAULT_PRECHECK_TIMEOUT_S = 300.0
MAX_POLL_INTERVAL_S = 5.0
"""Backoff ceiling: long prechecks are polled less often, but never so rarely
that a finished task waits long to be noticed."""

TIMEOUT_RISK = "PrecheckTimeout"
NO_TASK_RISK = "PrecheckMissing"
TASK_FAILED_RISK = "PrecheckFailed"


def needs_server_precheck(change: Change) -> bool:
    """Every PUT to an existing instance (upgrade, downgrade, update, repair),
    and adoptions that write."""
    if not change.instance_id:
        return False
    if change.action in (Action.UPGRADE, Action.DOWNGRADE, Action.UPDATE, Action.REPAIR):
        return True
    return change.action is Action.ADOPT and bool(change.field_changes)


STATUS_RISK = "AddonStatus"
"""The precheck's "addon status(X) is not running" Warning."""


def implied_accepts(change: Change) -> set[str]:
    """Warnings a change accepts by what it is: a repair exists *because* the
    instance is not running (the plan shows its status), so the precheck saying
    so must not block it. Fatal risks still block; the acceptance is recorded."""
    return {STATUS_RISK} if change.action is Action.REPAIR else set()


@dataclass(frozen=True)
class PrecheckOutcome:
    """Everything one cluster's add-on precheck produced."""

    findings: tuple[PrecheckFinding, ...] = ()
    task_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Add-on → precheck task ids (recorded in state and journal)."""

    @property
    def blocked(self) -> set[str]:
        return blocked_addons(self.findings)

    def accepted_risks(self, addon: str) -> tuple[str, ...]:
        return tuple(
            sorted({f.risk for f in self.findings if f.addon == addon and f.accepted})
        )


def blocked_addons(findings: Iterable[PrecheckFinding]) -> set[str]:
    """Add-ons with a blocking finding: any Fatal, or an unaccepted Warning."""
    return {f.addon for f in findings if f.blocking}


async def run_addon_prechecks(
    client: CceClient,
    cluster_id: str,
    changes: Sequence[Change],
    *,
    accept: Mapping[str, Collection[str]],
    timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S,
    poll_interval_s: float = 1.0,
) -> tuple[PrecheckFinding, ...]:
    """The findings of the server precheck of ``changes`` (see ``precheck_cluster``)."""
    outcome = await precheck_cluster(
        client,
        cluster_id,
        changes,
        accept=accept,
        timeout_s=timeout_s,
        poll_interval_s=poll_interval_s,
    )
    return outcome.findings


async def precheck_cluster(
    client: CceClient,
    cluster_id: str,
    changes: Sequence[Change],
    *,
    accept: Mapping[str, Collection[str]],
    timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S,
    poll_interval_s: float = 1.0,
) -> PrecheckOutcome:
    """Run one batch add-on precheck for the changes that need one.

    ``accept`` maps an add-on to the Warning risk names that may be skipped.
    Cloud errors propagate (the caller blocks the whole cluster's writes).
    """
    to_check = [c for c in changes if needs_server_precheck(c)]
    if not to_check:
        return PrecheckOutcome()
    items = [
        PrecheckItem(
            template_name=c.addon,
            instance_id=c.instance_id,
            type="addonUpgrade",
            target_version=c.after_version or c.before_version,
            values=dict(c.values),
        )
        for c in to_check
    ]
    tasks = await _create_tasks(client, cluster_id, items)
    by_addon: dict[str, AddonPrecheckTask] = {}
    for task in tasks:
        by_addon.setdefault(task.template_name, task)

    deadline = time.monotonic() + timeout_s
    polled = await asyncio.gather(
        *(
            _poll_task(client, cluster_id, by_addon[c.addon], deadline, poll_interval_s)
            for c in to_check
            if c.addon in by_addon
        )
    )
    finished = {task.template_name: task for task in polled}

    findings: list[PrecheckFinding] = []
    task_ids: dict[str, tuple[str, ...]] = {}
    for change in to_check:
        accepted = set(accept.get(change.addon, ())) | implied_accepts(change)
        done = finished.get(change.addon)
        if done is None:
            findings.append(
                PrecheckFinding(
                    addon=change.addon,
                    risk=NO_TASK_RISK,
                    level=FindingLevel.FATAL,
                    status=FindingStatus.FAILED,
                    message="the server returned no precheck task for this add-on",
                )
            )
            continue
        task_ids[change.addon] = (done.task_id,)
        findings.extend(_task_findings(change.addon, done, accepted, timeout_s))
    return PrecheckOutcome(findings=tuple(findings), task_ids=task_ids)


async def _create_tasks(
    client: CceClient, cluster_id: str, items: Sequence[PrecheckItem]
) -> list[AddonPrecheckTask]:
    # A precheck only reads the add-ons, so creating it again after an
    # ambiguous failure is harmless (unlike an install): no look first.
    return await retry_ambiguous(lambda: client.create_addon_precheck(cluster_id, items))


async def _poll_task(
    client: CceClient,
    cluster_id: str,
    task: AddonPrecheckTask,
    deadline: float,
    interval_s: float,
) -> AddonPrecheckTask:
    """Poll one task until it finishes or the deadline passes (then returned
    unfinished). The first poll also waits: the POST was this task's request;
    a sleep that ends at the deadline is not followed by a poll."""
    if task.finished:
        return task
    latest = task

    async def look() -> AddonPrecheckTask:
        nonlocal latest
        listed = await client.list_addon_precheck_tasks(cluster_id, task_id=task.task_id)
        # A list that misses the task says nothing new about it.
        latest = next((t for t in listed if t.task_id == task.task_id), latest)
        return latest

    try:
        return await poll_until(
            look,
            lambda t: t.finished,
            deadline=deadline,
            interval=interval_s,
            backoff=1.5,
            max_interval=max(MAX_POLL_INTERVAL_S, interval_s),
            last_look=False,
        )
    except PollTimeout:
        return latest


def _task_findings(
    addon: str, task: AddonPrecheckTask, accepted: Collection[str], timeout_s: float
) -> list[PrecheckFinding]:
    if not task.finished:
        return [
            PrecheckFinding(
                addon=addon,
                risk=TIMEOUT_RISK,
                level=FindingLevel.FATAL,
                status=FindingStatus.FAILED,
                message=f"precheck task {task.task_id} did not finish within "
                f"{timeout_s:g}s (last status {task.status})",
                task_id=task.task_id,
            )
        ]
    findings = [
        PrecheckFinding(
            addon=addon,
            risk=risk.name,
            level=FindingLevel.of_risk(risk.level),
            status=FindingStatus.FAILED,
            message=risk.message,
            accepted=risk.level == FindingLevel.WARNING and risk.name in accepted,
            task_id=task.task_id,
        )
        for risk in task.risks
        if risk.status == "Failed"
    ]
    if task.status == "Failed" and not findings:
        # A failed task must never pass silently, even when it names no risk.
        findings.append(
            PrecheckFinding(
                addon=addon,
                risk=TASK_FAILED_RISK,
                level=FindingLevel.FATAL,
                status=FindingStatus.FAILED,
                message=task.message or "the precheck task failed without naming a risk",
                task_id=task.task_id,
            )
        )
    return findings


def parse_accept_risks(
    values: Iterable[str], known: Mapping[str, Collection[str]] | None = None
) -> dict[str, dict[str, set[str]]]:
    """``CLUSTER/ADDON:RiskName`` options → cluster → add-on → risk names.

    ``known`` (cluster → add-on names of the plan or the desired state) makes
    a name outside it an error too: a typo must not look like an accepted risk.
    Raises ``ValueError`` naming the bad option and what would be valid; plan
    and apply report it the same way.
    """
    out: dict[str, dict[str, set[str]]] = {}
    for raw in values:
        target, sep, risk = raw.partition(":")
        cluster, slash, addon = target.partition("/")
        if not (sep and slash and cluster and addon and risk):
            raise ValueError(
                f"--accept-risk {raw!r}: expected CLUSTER/ADDON:RiskName "
                "(e.g. prod-eu/coredns:K8sResourceModified)"
            )
        if known is not None and cluster not in known:
            raise ValueError(
                f"--accept-risk {raw!r}: no cluster {cluster!r} in the plan; known clusters: "
                + (", ".join(sorted(known)) or "(none)")
            )
        if known is not None and addon not in known[cluster]:
            raise ValueError(
                f"--accept-risk {raw!r}: cluster {cluster!r} has no add-on {addon!r} in the"
                " plan; known add-ons: " + (", ".join(sorted(known[cluster])) or "(none)")
            )
        out.setdefault(cluster, {}).setdefault(addon, set()).add(risk)
    return out


# --- cluster upgrade readiness ---------------------------------------------


async def run_readiness_check(
    client: CceClient,
    cluster: Cluster,
    target_version: str,
    declared: Sequence[AddonSpec],
    templates: Mapping[str, AddonTemplate],
    *,
    timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S,
    poll_interval_s: float = 1.0,
) -> ReadinessReport:
    """Reuse an unexpired pre-upgrade check for ``target_version`` or create
    one, poll it to completion, and report its add-on findings."""
    existing = await client.list_cluster_precheck_tasks(cluster.id)
    task = _reusable_task(existing, target_version)
    if task is None:
        task = await client.create_cluster_precheck(
            cluster.id, target_version, cluster_version=cluster.version
        )
    if not task.finished:
        task_id = task.uid
        try:
            task = await poll_until(
                lambda: client.get_cluster_precheck(cluster.id, task_id),
                lambda t: t.finished,
                deadline=time.monotonic() + timeout_s,
                interval=poll_interval_s,
                backoff=1.5,
                max_interval=max(MAX_POLL_INTERVAL_S, poll_interval_s),
            )
        except PollTimeout as timeout:
            task = timeout.last or task
    return ReadinessReport(
        target_version=target_version,
        task_id=task.uid,
        phase=task.phase if task.finished else "Timeout",
        items=_readiness_items(task),
        unsupported_addons=_unsupported(cluster, target_version, declared, templates),
    )


def _reusable_task(
    tasks: Iterable[ClusterPrecheckTask], target_version: str
) -> ClusterPrecheckTask | None:
    """The newest task for this target that is running, or finished and not
    expired. ``Error`` tasks are not reused: they checked nothing."""
    now = datetime.now(UTC)
    candidates = [
        t
        for t in tasks
        if _same_target(t.target_version, target_version)
        and t.phase != "Error"
        and (not t.finished or not _expired(t.expires_at, now))
    ]
    candidates.sort(key=lambda t: t.created_at)
    return candidates[-1] if candidates else None


def _same_target(task_target: str, wanted: str) -> bool:
    # Asking for a minor version (v1.29) makes CCE pick its latest patch.
    return task_target == wanted or task_target.startswith(wanted + ".")


def _expired(expires_at: str, now: datetime) -> bool:
    if not expires_at:
        return True
    try:
        expiry = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return expiry <= now


def _readiness_items(task: ClusterPrecheckTask) -> tuple[ReadinessItem, ...]:
    items = list(task.addon_check.items)
    # Other groups may also name add-ons at risk; those matter to this tool too.
    for status in (task.cluster_check, task.node_check):
        items.extend(i for i in status.items if i.addon_risks)
    return tuple(
        ReadinessItem(
            name=i.name, level=i.level, phase=i.phase, message=i.message, addons=i.addon_risks
        )
        for i in items
    )


def _unsupported(
    cluster: Cluster,
    target_version: str,
    declared: Sequence[AddonSpec],
    templates: Mapping[str, AddonTemplate],
) -> tuple[str, ...]:
    out = []
    for spec in declared:
        if spec.state != "present" or not spec.version:
            continue
        template = templates.get(spec.name)
        tv = template.version(spec.version) if template else None
        if tv is not None and not tv.supports(cluster.type, cluster.category, target_version):
            out.append(f"{spec.name}@{spec.version}")
    return tuple(sorted(out))
