"""``import CLUSTER ADDON``: take a live instance under management without touching it."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.records import journal_record, managed_addon
from reconciler.cloud import CceClient
from reconciler.engine.secrets import sensitive_leaves
from reconciler.model.sensitive import NO_RULES, SensitiveRules
from reconciler.model.state import ManagedAddon
from reconciler.statemgr.backend import StateBackend

__all__ = ["ImportFailed", "Imported", "import_addon"]


class ImportFailed(Exception):
    """The add-on can't be imported (not installed, say); the message says why."""


@dataclass(frozen=True)
class Imported:
    addon: ManagedAddon
    already_managed: bool
    serial: int


async def import_addon(
    client: CceClient,
    store: StateBackend,
    *,
    cluster_name: str,
    cluster_id: str,
    project_id: str,
    addon: str,
    sensitive_rules: SensitiveRules = NO_RULES,
    lock_timeout_s: float = 0.0,
) -> Imported:
    """Record the live instance of ``addon`` in the cluster's state, as it is.

    ``sensitive_rules`` are the declaration's (``secret()`` leaves,
    ``sensitive:``, ``not_sensitive:``); the leaves they make sensitive are hashed.
    """
    # Looked up before the lock: a name that is not installed fails without
    # creating the lock file (or the state directory) of a cluster never managed.
    instances = await client.list_instances(cluster_id)
    instance = next((i for i in instances if i.template_name == addon), None)
    if instance is None:
        live = ", ".join(sorted(i.template_name for i in instances)) or "none"
        raise ImportFailed(
            f"cluster {cluster_name} ({cluster_id}) has no {addon} add-on installed"
            f" (installed: {live})"
        )
    with store.lock(cluster_name, operation="import", timeout_s=lock_timeout_s):
        state = store.read(cluster_name) or store.new(cluster_name, cluster_id, project_id)
        if state.cluster_id != cluster_id:
            raise ImportFailed(
                f"the state of {cluster_name} is for cluster {state.cluster_id}, not {cluster_id}"
            )
        current = state.addons.get(addon)
        if current is not None and current.uid == instance.uid:
            return Imported(addon=current, already_managed=True, serial=state.serial)
        entry = managed_addon(
            name=addon,
            uid=instance.uid,
            version=instance.version,
            values=instance.values,
            # A re-created instance taken over again: what was secret stays so.
            sensitive_paths=sensitive_leaves(instance.values, sensitive_rules)
            | frozenset(current.sensitive_paths if current is not None else ()),
            salt=state.salt,
            plan_id="",
        )
        written = store.put_addon(state, entry)
        store.append_journal(
            cluster_name,
            journal_record(
                cluster=cluster_name,
                addon=addon,
                action="import",
                result="imported",
                plan_id="",
                from_version=current.version if current else "",
                to_version=instance.version,
                instance_id=instance.uid,
                message=f"status {instance.status.status}",
            )
        )
        return Imported(addon=entry, already_managed=False, serial=written.serial)
