"""Refresh: read the live side of the selected clusters and their state files.

Shared by ``plan`` and ``drift`` (drift is a plan mode): one template list per
endpoint, one cluster GET and one add-on list per cluster, all concurrent
within the session's bounds. A cluster that can't be read becomes a
diagnostic for that cluster and does not hide the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from reconciler.cloud import CceClient, CloudError, CloudSession
from reconciler.kit.tasks import gather_or_cancel
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, LiveCluster
from reconciler.model.state import StateFile
from reconciler.statemgr import StateError
from reconciler.statemgr.backend import StateBackend

T = TypeVar("T")

__all__ = [
    "Refreshed",
    "client_for",
    "cluster_error",
    "each_cluster",
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
    """The cluster and its add-on instances; the session's progress (a terminal
    bar) hears of the start and the end, so a big or throttled fleet is not silent."""
    client = client_for(session, spec)
    session.progress.reading(spec.name)
    try:
        cluster, instances = await gather_or_cancel(
            client.get_cluster(spec.cluster_id), client.list_instances(spec.cluster_id)
        )
    except CloudError as err:
        return cluster_error(spec, "read", err)
    finally:
        session.progress.read(spec.name)
    return LiveCluster(cluster=cluster, instances=tuple(instances))


def first_of_endpoint(desired: DesiredState) -> dict[str, ClusterSpec]:
    first: dict[str, ClusterSpec] = {}
    for spec in desired.clusters:
        first.setdefault(endpoint_key(spec), spec)
    return first


async def each_cluster(work: Callable[[ClusterSpec], Awaitable[T]],
                       specs: Sequence[ClusterSpec], workers: int) -> list[T]:
    """``work`` for every spec, results in order, ``workers`` clusters at a time.

    Why not one task per cluster: at 10,000 clusters those were 30,000 tasks
    and suspended call stacks waiting on the session's semaphore (tens of MB,
    and event-loop CPU), when only ``concurrency`` requests can be in flight.
    ``workers`` clusters (two requests each) keep that semaphore full."""
    results: list[T | None] = [None] * len(specs)
    queue = iter(enumerate(specs))

    async def worker() -> None:
        for index, spec in queue:
            results[index] = await work(spec)

    await gather_or_cancel(*(worker() for _ in range(max(1, min(workers, len(specs))))))
    return [r for r in results if r is not None]


async def refresh(desired: DesiredState, session: CloudSession) -> Refreshed:
    """Read templates (once per endpoint) and each cluster with its instances."""
    first = first_of_endpoint(desired)
    keys = list(first)

    async def read(spec: ClusterSpec) -> LiveCluster | Diagnostic:
        return await read_cluster(session, spec)

    template_results, cluster_results = await asyncio.gather(
        asyncio.gather(*(read_templates(session, first[k]) for k in keys)),
        each_cluster(read, desired.clusters, session.concurrency),
    )
    return Refreshed(
        live={spec.name: r for spec, r in zip(desired.clusters, cluster_results, strict=True)},
        templates=dict(zip(keys, template_results, strict=True)),
    )


def read_states(
    desired: DesiredState, store: StateBackend
) -> tuple[dict[str, StateFile | None], dict[str, Diagnostic]]:
    """State files of the selected clusters; unreadable ones become diagnostics.

    A state is bound to its cluster's id, not only its name: a state recorded
    for another ``cluster_id`` is an error (planning on would mix the uids of
    two clusters), and a cluster without a state whose id another state file
    holds was renamed (its state would be orphaned, with a second lock).
    """
    states: dict[str, StateFile | None] = {}
    errors: dict[str, Diagnostic] = {}
    for spec in desired.clusters:
        try:
            states[spec.name] = store.read(spec.name)
        except StateError as err:
            errors[spec.name] = cluster_error(spec, "use the state file of", err)
            states[spec.name] = None
            continue
        found = states[spec.name]
        if found is not None and found.cluster_id and found.cluster_id != spec.cluster_id:
            errors[spec.name] = _other_cluster(spec, found)
            states[spec.name] = None
    missing = [s for s in desired.clusters if states[s.name] is None and s.name not in errors]
    if missing:
        declared = {s.name for s in desired.clusters}
        by_id = _names_by_cluster_id(store, skip=declared)
        for spec in missing:
            if spec.cluster_id in by_id:
                errors[spec.name] = _renamed(spec, by_id[spec.cluster_id])
    return states, errors


def _other_cluster(spec: ClusterSpec, state: StateFile) -> Diagnostic:
    return _state_problem(
        spec, f"the state of {spec.name} is for cluster {state.cluster_id}, but the file "
        f"says cluster_id {spec.cluster_id}; refusing to plan against another cluster's "
        f"state (fix cluster_id, or if {spec.name} now names another cluster, forget the "
        f"old one's state: reconciler state rm {spec.name})")


def _renamed(spec: ClusterSpec, old: str) -> Diagnostic:
    return _state_problem(
        spec, f"{spec.name} has no state, but the state of {old} is for the same cluster "
        f"{spec.cluster_id}; if the key was renamed, move its state: "
        f"reconciler state mv {old} {spec.name} (or forget it: reconciler state rm {old})")


def _state_problem(spec: ClusterSpec, message: str) -> Diagnostic:
    loc = spec.location
    return Diagnostic(file=loc.file if loc else "", line=loc.line if loc else 0,
                      column=loc.column if loc else 0, key_path=f"clusters.{spec.name}.cluster_id",
                      message=message)


def _names_by_cluster_id(store: StateBackend, skip: set[str]) -> dict[str, str]:
    """Cluster id → name of the state files not declared in this run. Read
    once per run, and only when some declared cluster has no state."""
    found: dict[str, str] = {}
    for name in store.list():
        if name in skip:
            continue
        try:
            other = store.read(name)
        except StateError:
            continue  # reported when that cluster is planned itself
        if other is not None and other.cluster_id:
            found.setdefault(other.cluster_id, name)
    return found
