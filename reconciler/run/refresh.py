"""Refresh: read the live side of the selected clusters and their state files.

Shared by ``plan`` and ``drift`` (drift is a plan mode): one template list per
endpoint, one cluster GET and one add-on list per cluster, all concurrent
within the session's bounds. A cluster that can't be read becomes a
diagnostic for that cluster and does not hide the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.cloud import CceClient, CloudError, CloudSession
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, LiveCluster
from reconciler.model.state import StateFile
from reconciler.statemgr import StateError, StateStore

__all__ = [
    "Refreshed",
    "client_for",
    "cluster_error",
    "endpoint_key",
    "first_of_endpoint",
    "read_cluster",
    "read_states",
    "read_templates",
    "refresh",
    "templates_for",
]


@dataclass(frozen=True)
class Refreshed:
    """Live state of the selected clusters, keyed by cluster name."""

    live: Mapping[str, LiveCluster | Diagnostic]
    templates: Mapping[str, Mapping[str, AddonTemplate] | CloudError]
    """Per endpoint key (see ``endpoint_key``): the templates by name, or why they
    could not be listed (``templates_for`` turns that into one cluster's diagnostic)."""


def endpoint_key(spec: ClusterSpec) -> str:
    """Clusters with the same key share one template catalogue (one list call)."""
    return f"{spec.endpoint}|{spec.region}|{spec.project_id}"


def client_for(session: CloudSession, spec: ClusterSpec) -> CceClient:
    return session.client(spec.endpoint, spec.region, spec.project_id)


def cluster_error(spec: ClusterSpec, what: str, err: Exception) -> Diagnostic:
    loc = spec.location
    return Diagnostic(
        file=loc.file if loc else "",
        line=loc.line if loc else 0,
        column=loc.column if loc else 0,
        key_path=f"clusters.{spec.name}",
        message=f"cannot {what} cluster {spec.cluster_id}: {err}",
    )


async def read_templates(
    session: CloudSession, spec: ClusterSpec
) -> Mapping[str, AddonTemplate] | CloudError:
    """The catalogue of ``spec``'s endpoint, or the error: not a diagnostic yet, because
    every cluster of the endpoint shares this one read and each must be named in its own."""
    try:
        templates = await client_for(session, spec).list_templates()
    except CloudError as err:
        return err
    return {t.name: t for t in templates}


def templates_for(
    spec: ClusterSpec, read: Mapping[str, AddonTemplate] | CloudError
) -> Mapping[str, AddonTemplate] | Diagnostic:
    """The shared catalogue read, with a failure placed at ``spec``'s own block and id."""
    if isinstance(read, CloudError):
        return cluster_error(spec, "list add-on templates for", read)
    return read


async def read_cluster(session: CloudSession, spec: ClusterSpec) -> LiveCluster | Diagnostic:
    client = client_for(session, spec)
    try:
        cluster, instances = await asyncio.gather(
            client.get_cluster(spec.cluster_id), client.list_instances(spec.cluster_id)
        )
    except CloudError as err:
        return cluster_error(spec, "read", err)
    return LiveCluster(cluster=cluster, instances=tuple(instances))


def first_of_endpoint(desired: DesiredState) -> dict[str, ClusterSpec]:
    first: dict[str, ClusterSpec] = {}
    for spec in desired.clusters:
        first.setdefault(endpoint_key(spec), spec)
    return first


async def refresh(desired: DesiredState, session: CloudSession) -> Refreshed:
    """Read templates (once per endpoint) and each cluster with its instances."""
    first = first_of_endpoint(desired)
    keys = list(first)
    template_results, cluster_results = await asyncio.gather(
        asyncio.gather(*(read_templates(session, first[k]) for k in keys)),
        asyncio.gather(*(read_cluster(session, spec) for spec in desired.clusters)),
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
            errors[spec.name] = cluster_error(spec, "use the state file of", err)
            states[spec.name] = None
    return states, errors
