"""Plan orchestration: refresh (``run.refresh``), read state files, plan.

This is the I/O shell around the pure planner (``reconciler.engine``). Each
cluster is planned as soon as its reads land; a cluster that can't be read
becomes a plan error for that cluster and does not hide the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler import __version__
from reconciler.cloud import CloudError, CloudSession
from reconciler.engine import cluster_waves, plan_changes
from reconciler.engine.refresh import refresh_only as refresh_only_plan
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, Cluster, LiveCluster
from reconciler.model.plan import ClusterPlan, Plan, PrecheckFinding
from reconciler.model.sensitive import published_salt
from reconciler.run.prechecks import (
    DEFAULT_PRECHECK_TIMEOUT_S,
    parse_accept_risks,
    run_addon_prechecks,
    run_readiness_check,
)
from reconciler.run.refresh import (
    Refreshed,
    client_for,
    each_cluster,
    endpoint_key,
    first_of_endpoint,
    read_cluster,
    read_states,
    read_templates,
    templates_for,
)
from reconciler.statemgr.backend import StateBackend

__all__ = ["PlanResult", "make_plan", "plan_flow"]


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    salts: Mapping[str, str]
    """Per cluster: the salt for sensitive hashes (the state's, or a new one)."""
    templates: Mapping[str, Mapping[str, AddonTemplate] | CloudError] = dataclasses.field(
        default_factory=dict)
    """The catalogue read per endpoint key (``run.refresh.endpoint_key``)."""
    clusters: Mapping[str, Cluster] = dataclasses.field(default_factory=dict)
    """The clusters read, by name (their Kubernetes version, type, category)."""


async def plan_flow(
    desired: DesiredState,
    session: CloudSession,
    store: StateBackend,
    *,
    precheck: bool = False,
    accept_risks: Sequence[str] = (),
    refresh_only: bool = False,
    precheck_timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S,
    targets: Sequence[str] = (),
) -> PlanResult:
    """``reconciler plan``: ``make_plan`` within ``session``, which it closes."""
    async with session:
        return await make_plan(
            desired, session, store, precheck=precheck, accept_risks=accept_risks,
            refresh_only=refresh_only, precheck_timeout_s=precheck_timeout_s, targets=targets,
        )


async def make_plan(
    desired: DesiredState,
    session: CloudSession,
    store: StateBackend,
    *,
    precheck: bool = False,
    accept_risks: Sequence[str] = (),
    plan_id: str | None = None,
    new_salts: Mapping[str, str] | None = None,
    refresh_only: bool = False,
    precheck_timeout_s: float = DEFAULT_PRECHECK_TIMEOUT_S,
    targets: Sequence[str] = (),
) -> PlanResult:
    """Refresh, read states and plan every selected cluster.

    ``precheck`` also runs the server add-on prechecks and attaches their
    findings to the changes (``plan --precheck``). Cluster upgrade readiness
    is checked whenever a cluster declares ``upgrade_readiness``.

    The plan id defaults to a digest of everything the plan was computed
    from (desired digest, each cluster's state lineage/serial and live
    fingerprint): the same inputs give the same id. ``new_salts`` fixes the
    salt of clusters that have no state yet (reproducible example plans);
    otherwise a random one is drawn. ``refresh_only`` keeps only state-only
    ``refresh`` changes, one per managed add-on that moved away from its state
    (``engine.refresh.refresh_only``; ``--refresh-only``).

    ``targets`` (``--addon``) keeps only the changes of those add-ons, like
    Terraform's ``-target``: the others are neither planned for writing nor
    prechecked, and the plan records the targets so that applying it saved
    follows them. Names are checked against the declared add-ons before this
    (``config.options.check_addon_targets``).
    """
    states, state_errors = read_states(desired, store)
    salts = {
        spec.name: (
            s.salt
            if (s := states.get(spec.name)) and s.salt
            # Written into a saved plan (apply checks the secrets it re-reads
            # against it), so a slow one: see model.sensitive.sensitive_hash.
            else published_salt((new_salts or {}).get(spec.name))
        )
        for spec in desired.clusters
    }
    # Clusters on different endpoints may see different template catalogues:
    # each cluster is planned against its endpoint's.
    template_reads = {
        key: asyncio.ensure_future(read_templates(session, spec))
        for key, spec in first_of_endpoint(desired).items()
    }
    live: dict[str, LiveCluster | Diagnostic] = {}
    clusters: dict[str, Cluster] = {}

    async def read_and_plan(spec: ClusterSpec) -> ClusterPlan:
        # Planned as soon as its reads land: the pure planner's CPU overlaps
        # the other clusters' API latency instead of following the whole
        # refresh (docs/planning.md, "Performance targets": wall time near the ideal).
        found = await read_cluster(session, spec)
        if isinstance(found, LiveCluster):
            clusters[spec.name] = found.cluster  # small: for the template cache
        if precheck or spec.upgrade_readiness is not None:
            live[spec.name] = found  # kept only for the server checks after the loop
        templates = templates_for(spec, await template_reads[endpoint_key(spec)])
        planned: LiveCluster | Diagnostic = state_errors.get(spec.name, found)
        if isinstance(templates, Diagnostic):
            planned, templates = templates, {}
        one = plan_changes(
            dataclasses.replace(desired, clusters=(spec,)),
            {spec.name: planned},
            templates,
            {spec.name: states[spec.name]},
            plan_id=_PENDING_ID,
            tool_version=__version__,
            salts=salts,
        )
        cp = one.clusters[0]
        if refresh_only and isinstance(planned, LiveCluster):
            cp = refresh_only_plan(cp, spec, planned, templates, states[spec.name])
        return _targeted(cp, targets)

    try:
        ordered = await each_cluster(read_and_plan, desired.clusters, session.concurrency)
    finally:
        for read in template_reads.values():
            read.cancel()  # a no-op unless planning raised before a read finished
    refreshed = Refreshed(
        live=live,
        templates={key: read.result() for key, read in template_reads.items()},
    )
    plan_id = plan_id or _content_id(desired, ordered, targets)
    ordered = await _attach_server_checks(
        desired, session, refreshed, ordered, precheck=precheck, accept_risks=accept_risks,
        timeout_s=precheck_timeout_s,
    )
    # Each cluster was planned alone above: its wave is assigned here, over
    # every selected cluster, and the plan carries the waves apply follows.
    waves = cluster_waves(desired)
    ordered = [dataclasses.replace(cp, wave=waves.get(cp.name, "")) for cp in ordered]
    plan = Plan(
        plan_id=plan_id,
        tool_version=__version__,
        desired_digest=desired.digest,
        clusters=tuple(ordered),
        files=desired.files,
        targets=tuple(sorted(set(targets))),
        rollout=desired.rollout,
    )
    return PlanResult(plan=plan, salts=salts, templates=refreshed.templates, clusters=clusters)


_PENDING_ID = "pending"


def _targeted(cp: ClusterPlan, targets: Sequence[str]) -> ClusterPlan:
    """``cp`` with only the changes of ``targets`` (all of them when none)."""
    if not targets:
        return cp
    wanted = set(targets)
    return dataclasses.replace(cp, changes=tuple(ch for ch in cp.changes if ch.addon in wanted))


def _content_id(
    desired: DesiredState, cluster_plans: Sequence[ClusterPlan], targets: Sequence[str] = ()
) -> str:
    digest = hashlib.sha256(desired.digest.encode())
    if targets:
        # A targeted plan is a different plan from the same inputs.
        digest.update(("\0targets\0" + ",".join(sorted(set(targets)))).encode())
    for cp in cluster_plans:
        digest.update(
            f"\0{cp.name}\0{cp.state_lineage}\0{cp.state_serial}\0{cp.live_fingerprint}".encode()
        )
    return str(uuid.UUID(bytes=digest.digest()[:16], version=4))


async def _attach_server_checks(
    desired: DesiredState,
    session: CloudSession,
    refreshed: Refreshed,
    cluster_plans: list[ClusterPlan],
    *,
    precheck: bool,
    accept_risks: Sequence[str],
    timeout_s: float,
) -> list[ClusterPlan]:
    extra = parse_accept_risks(accept_risks)
    specs = {spec.name: spec for spec in desired.clusters}

    async def one(cp: ClusterPlan) -> ClusterPlan:
        spec = specs[cp.name]
        live = refreshed.live.get(cp.name)
        if not isinstance(live, LiveCluster) or cp.errors:
            return cp
        client = client_for(session, spec)
        if precheck:
            accept = {
                a.name: set(a.precheck_accept) | extra.get(cp.name, {}).get(a.name, set())
                for a in spec.addons
            }
            findings = await run_addon_prechecks(client, spec.cluster_id, cp.changes,
                                                 accept=accept, timeout_s=timeout_s)
            by_addon: dict[str, list[PrecheckFinding]] = {}
            for f in findings:
                by_addon.setdefault(f.addon, []).append(f)
            cp = dataclasses.replace(
                cp,
                changes=tuple(
                    dataclasses.replace(ch, findings=tuple(by_addon.get(ch.addon, ())))
                    for ch in cp.changes
                ),
            )
        if spec.upgrade_readiness is not None:
            templates = refreshed.templates.get(endpoint_key(spec))
            report = await run_readiness_check(
                client,
                live.cluster,
                spec.upgrade_readiness.target_version,
                spec.addons,
                templates if isinstance(templates, Mapping) else {},
            )
            cp = dataclasses.replace(cp, readiness=report)
        return cp

    # Tasks only for the clusters with a check to run (none on most plans).
    checked = [i for i, cp in enumerate(cluster_plans)
               if not cp.errors and (precheck or specs[cp.name].upgrade_readiness is not None)]
    done = await asyncio.gather(*(one(cluster_plans[i]) for i in checked))
    out = list(cluster_plans)
    for index, cp in zip(checked, done, strict=True):
        out[index] = cp
    return out
