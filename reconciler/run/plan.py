"""Plan orchestration: refresh live state over the API, read state files, plan.

This is the I/O shell around the pure planner (``reconciler.engine``):
one template list per endpoint, one cluster GET and one add-on list per
cluster, all concurrent within the session's bounds. A cluster that can't be
read becomes a plan error for that cluster and does not hide the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler import __version__
from reconciler.cloud import CceClient, CloudError, CloudSession
from reconciler.engine import plan_changes
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, LiveCluster
from reconciler.model.plan import ClusterPlan, Plan, PrecheckFinding
from reconciler.model.state import StateFile
from reconciler.statemgr import StateError, StateStore

__all__ = ["PlanResult", "Refreshed", "make_plan", "refresh"]


@dataclass(frozen=True)
class Refreshed:
    """Live state of the selected clusters, keyed by cluster name."""

    live: Mapping[str, LiveCluster | Diagnostic]
    templates: Mapping[str, Mapping[str, AddonTemplate] | Diagnostic]
    """Per endpoint key (see ``_endpoint_key``): the templates by name."""


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    salts: Mapping[str, str]
    """Per cluster: the salt for sensitive hashes (the state's, or a new one)."""


def _endpoint_key(spec: ClusterSpec) -> str:
    return f"{spec.endpoint}|{spec.region}|{spec.project_id}"


def client_for(session: CloudSession, spec: ClusterSpec) -> CceClient:
    return session.client(spec.endpoint, spec.region, spec.project_id)


def _cluster_error(spec: ClusterSpec, what: str, err: Exception) -> Diagnostic:
    loc = spec.location
    return Diagnostic(
        file=loc.file if loc else "",
        line=loc.line if loc else 0,
        column=loc.column if loc else 0,
        key_path=f"clusters.{spec.name}",
        message=f"cannot {what} cluster {spec.cluster_id}: {err}",
    )


async def _read_templates(
    session: CloudSession, spec: ClusterSpec
) -> Mapping[str, AddonTemplate] | Diagnostic:
    try:
        templates = await client_for(session, spec).list_templates()
    except CloudError as err:
        return _cluster_error(spec, "list add-on templates for", err)
    return {t.name: t for t in templates}


async def _read_cluster(session: CloudSession, spec: ClusterSpec) -> LiveCluster | Diagnostic:
    client = client_for(session, spec)
    try:
        cluster, instances = await asyncio.gather(
            client.get_cluster(spec.cluster_id), client.list_instances(spec.cluster_id)
        )
    except CloudError as err:
        return _cluster_error(spec, "read", err)
    return LiveCluster(cluster=cluster, instances=tuple(instances))


def _first_of_endpoint(desired: DesiredState) -> dict[str, ClusterSpec]:
    first: dict[str, ClusterSpec] = {}
    for spec in desired.clusters:
        first.setdefault(_endpoint_key(spec), spec)
    return first


async def refresh(desired: DesiredState, session: CloudSession) -> Refreshed:
    """Read templates (once per endpoint) and each cluster with its instances."""
    first_of_endpoint = _first_of_endpoint(desired)
    keys = list(first_of_endpoint)
    template_results, cluster_results = await asyncio.gather(
        asyncio.gather(*(_read_templates(session, first_of_endpoint[k]) for k in keys)),
        asyncio.gather(*(_read_cluster(session, spec) for spec in desired.clusters)),
    )
    return Refreshed(
        live={spec.name: r for spec, r in zip(desired.clusters, cluster_results, strict=True)},
        templates=dict(zip(keys, template_results, strict=True)),
    )


def read_states(
    desired: DesiredState, store: StateStore
) -> tuple[dict[str, StateFile | None], dict[str, Diagnostic]]:
    """State files of the selected clusters; unreadable ones become diagnostics."""
    states: dict[str, StateFile | None] = {}
    errors: dict[str, Diagnostic] = {}
    for spec in desired.clusters:
        try:
            states[spec.name] = store.read(spec.name)
        except StateError as err:
            errors[spec.name] = _cluster_error(spec, "use the state file of", err)
            states[spec.name] = None
    return states, errors


async def make_plan(
    desired: DesiredState,
    session: CloudSession,
    store: StateStore,
    *,
    precheck: bool = False,
    accept_risks: Sequence[str] = (),
    plan_id: str | None = None,
    new_salts: Mapping[str, str] | None = None,
) -> PlanResult:
    """Refresh, read states and plan every selected cluster.

    ``precheck`` also runs the server add-on prechecks and attaches their
    findings to the changes (``plan --precheck``). Cluster upgrade readiness
    is checked whenever a cluster declares ``upgrade_readiness``.

    The plan id defaults to a digest of everything the plan was computed
    from (desired digest, each cluster's state lineage/serial and live
    fingerprint): the same inputs give the same id. ``new_salts`` fixes the
    salt of clusters that have no state yet (reproducible example plans);
    otherwise a random one is drawn.
    """
    states, state_errors = read_states(desired, store)
    salts = {
        spec.name: (
            s.salt
            if (s := states.get(spec.name)) and s.salt
            else (new_salts or {}).get(spec.name) or secrets.token_hex(16)
        )
        for spec in desired.clusters
    }
    # Clusters on different endpoints may see different template catalogues:
    # each cluster is planned against its endpoint's.
    template_reads = {
        key: asyncio.ensure_future(_read_templates(session, spec))
        for key, spec in _first_of_endpoint(desired).items()
    }
    live: dict[str, LiveCluster | Diagnostic] = {}

    async def read_and_plan(spec: ClusterSpec) -> ClusterPlan:
        # Planned as soon as its reads land: the pure planner's CPU overlaps
        # the other clusters' API latency instead of following the whole
        # refresh (DESIGN 12: wall time near the ideal).
        found = live[spec.name] = await _read_cluster(session, spec)
        templates = await template_reads[_endpoint_key(spec)]
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
        return one.clusters[0]

    try:
        ordered = list(await asyncio.gather(*(read_and_plan(spec) for spec in desired.clusters)))
    finally:
        for read in template_reads.values():
            read.cancel()  # a no-op unless planning raised before a read finished
    refreshed = Refreshed(
        live={spec.name: live[spec.name] for spec in desired.clusters},
        templates={key: read.result() for key, read in template_reads.items()},
    )
    plan_id = plan_id or _content_id(desired, ordered)
    ordered = await _attach_server_checks(
        desired, session, refreshed, ordered, precheck=precheck, accept_risks=accept_risks
    )
    plan = Plan(
        plan_id=plan_id,
        tool_version=__version__,
        desired_digest=desired.digest,
        clusters=tuple(ordered),
        files=desired.files,
    )
    return PlanResult(plan=plan, salts=salts)


_PENDING_ID = "pending"


def _content_id(desired: DesiredState, cluster_plans: Sequence[ClusterPlan]) -> str:
    digest = hashlib.sha256(desired.digest.encode())
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
) -> list[ClusterPlan]:
    from reconciler.run.prechecks import (
        parse_accept_risks,
        run_addon_prechecks,
        run_readiness_check,
    )

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
            findings = await run_addon_prechecks(client, spec.cluster_id, cp.changes, accept=accept)
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
            templates = refreshed.templates.get(_endpoint_key(spec))
            report = await run_readiness_check(
                client,
                live.cluster,
                spec.upgrade_readiness.target_version,
                spec.addons,
                templates if isinstance(templates, Mapping) else {},
            )
            cp = dataclasses.replace(cp, readiness=report)
        return cp

    return list(await asyncio.gather(*(one(cp) for cp in cluster_plans)))
