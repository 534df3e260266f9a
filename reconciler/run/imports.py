"""The ``reconciler import`` flow: adopt one live add-on into a cluster's state."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.importer import Imported, import_addon
from reconciler.cloud import CloudSession
from reconciler.model.sensitive import NO_RULES, SensitiveRules
from reconciler.statemgr.backend import StateBackend

__all__ = ["ImportTarget", "import_flow"]


@dataclass(frozen=True)
class ImportTarget:
    """Which cluster, where: from the desired-state files or the cluster's state file."""

    cluster: str
    cluster_id: str
    project_id: str
    endpoint: str
    region: str
    sensitive_rules: SensitiveRules = NO_RULES
    """The declaration's sensitivity rules: the leaves they name are hashed in the state."""


async def import_flow(
    session: CloudSession,
    store: StateBackend,
    target: ImportTarget,
    addon: str,
    *,
    lock_timeout_s: float,
) -> Imported:
    """Record ``addon``'s live instance in the state, within ``session`` (which it closes).

    Raises ``ImportFailed``, ``StateError`` or ``CloudError``; nothing is
    changed on the cluster in any case."""
    async with session:
        client = session.client(target.endpoint, target.region, target.project_id)
        session.progress.reading(target.cluster)
        try:
            return await import_addon(
                client, store, cluster_name=target.cluster, cluster_id=target.cluster_id,
                project_id=target.project_id, addon=addon,
                sensitive_rules=target.sensitive_rules, lock_timeout_s=lock_timeout_s,
            )
        finally:
            session.progress.read(target.cluster)
