"""The ``reconciler init`` flow: read a project's clusters and add-ons, and
turn them into a desired-state document (``engine.onboard``).

One template list and one cluster list for the project, then one add-on list
per chosen cluster, ``concurrency`` clusters at a time. Nothing is written to
the cloud. A read that fails fails the whole run: a file missing a cluster's
add-ons would plan to leave them unmanaged, silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.cloud import CloudSession
from reconciler.engine.onboard import Onboarded, onboard
from reconciler.kit.selectors import ClusterPattern
from reconciler.kit.tasks import gather_or_cancel
from reconciler.model.live import Cluster, LiveCluster

__all__ = ["InitTarget", "NoClusters", "init_flow"]


@dataclass(frozen=True)
class InitTarget:
    endpoint: str
    region: str
    project_id: str
    patterns: tuple[ClusterPattern, ...] = ()
    """``--cluster``: names, globs or selectors on the clusters' own labels; none is all."""


class NoClusters(Exception):
    """The project has no cluster, or none the patterns choose; the message says which."""


async def init_flow(session: CloudSession, target: InitTarget, *,
                    workers: int) -> Onboarded:
    """The document for ``target``'s clusters, sorted by name. Raises
    ``CloudError`` or ``NoClusters``."""
    async with session:
        client = session.client(target.endpoint, target.region, target.project_id)
        templates, clusters = await gather_or_cancel(client.list_templates(),
                                                     client.list_clusters())
        chosen = sorted((c for c in clusters if _chosen(c, target.patterns)),
                        key=lambda c: c.name)
        if not chosen:
            raise NoClusters(_none_found(clusters, target))
        lives: list[LiveCluster | None] = [None] * len(chosen)
        queue = iter(enumerate(chosen))

        async def worker() -> None:
            for index, cluster in queue:
                session.progress.reading(cluster.name)
                try:
                    instances = await client.list_instances(cluster.id)
                finally:
                    session.progress.read(cluster.name)
                lives[index] = LiveCluster(cluster=cluster, instances=tuple(instances))

        await gather_or_cancel(*(worker() for _ in range(max(1, min(workers, len(chosen))))))
    read = [live for live in lives if live is not None]
    base = tuple(p.text for p in target.patterns) or ("*",)
    return onboard(read, {t.name: t for t in templates}, project_id=target.project_id,
                   base_clusters=base)


def _chosen(cluster: Cluster, patterns: Sequence[ClusterPattern]) -> bool:
    return not patterns or any(p.matches(cluster.name, cluster.labels) for p in patterns)


def _none_found(clusters: Sequence[Cluster], target: InitTarget) -> str:
    where = f"project {target.project_id or '(from the credentials)'} in {target.region}"
    if not clusters:
        return f"{where} has no cluster"
    given = ", ".join(p.text for p in target.patterns)
    names = ", ".join(sorted(c.name for c in clusters)[:10])
    more = f" and {len(clusters) - 10} more" if len(clusters) > 10 else ""
    return f"--cluster {given} chooses none of the {len(clusters)} clusters of {where}: " \
           f"{names}{more}"
