"""State files: what the reconciler last applied to each cluster.

One ``StateFile`` per cluster. Values are stored with sensitive leaves replaced
by salted hashes (``reconciler.model.sensitive``); the salt is per lineage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model.json import JSON

__all__ = ["STATE_FORMAT_VERSION", "ManagedAddon", "StateFile"]

STATE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManagedAddon:
    name: str
    """Template name."""
    uid: str
    """Instance ``metadata.uid`` when last applied; a new uid live means re-created."""
    version: str
    values: Mapping[str, JSON]
    """Last applied full values, sensitive leaves hashed."""
    values_digest: str
    """sha256 of the canonical JSON of ``values``."""
    applied_at: str
    """RFC 3339 UTC."""
    plan_id: str = ""
    precheck_task_ids: tuple[str, ...] = ()
    accepted_risks: tuple[str, ...] = ()
    sensitive_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateFile:
    lineage: str
    """uuid4, fixed at creation; a plan is bound to it."""
    serial: int
    """Incremented on every write."""
    cluster_name: str
    cluster_id: str
    project_id: str = ""
    salt: str = ""
    """Salt for sensitive hashes (random per lineage)."""
    addons: Mapping[str, ManagedAddon] = field(default_factory=dict)
    format_version: int = STATE_FORMAT_VERSION
