"""What apply writes down after each add-on: the state entry and the journal line.

Pure: values in, values out. Sensitive leaves are hashed here, with the
cluster's salt, before anything reaches the state directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from reconciler.engine.secrets import hash_at
from reconciler.model.json import JSON
from reconciler.model.state import ManagedAddon
from reconciler.statemgr.actor import actor

__all__ = ["journal_record", "managed_addon", "utc_now", "values_digest"]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def values_digest(values: Mapping[str, JSON]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def managed_addon(
    *,
    name: str,
    uid: str,
    version: str,
    values: Mapping[str, JSON],
    sensitive_paths: Collection[str],
    salt: str,
    plan_id: str,
    precheck_task_ids: Sequence[str] = (),
    accepted_risks: Sequence[str] = (),
) -> ManagedAddon:
    stored = hash_at(values, sensitive_paths, salt)
    return ManagedAddon(
        name=name,
        uid=uid,
        version=version,
        values=stored,
        values_digest=values_digest(stored),
        applied_at=utc_now(),
        plan_id=plan_id,
        precheck_task_ids=tuple(precheck_task_ids),
        accepted_risks=tuple(accepted_risks),
        sensitive_paths=tuple(sorted(sensitive_paths)),
    )


def journal_record(
    *,
    cluster: str,
    addon: str,
    action: str,
    result: str,
    plan_id: str,
    from_version: str = "",
    to_version: str = "",
    instance_id: str = "",
    precheck_task_ids: Sequence[str] = (),
    accepted_risks: Sequence[str] = (),
    message: str = "",
) -> dict[str, JSON]:
    """One journal line; never holds values (they may carry secrets)."""
    return {
        "time": utc_now(),
        "actor": actor(),
        "cluster": cluster,
        "addon": addon,
        "action": action,
        "from_version": from_version,
        "to_version": to_version,
        "instance_id": instance_id,
        "precheck_task_ids": list(precheck_task_ids),
        "accepted_risks": list(accepted_risks),
        "result": result,
        "message": message,
        "plan_id": plan_id,
    }
