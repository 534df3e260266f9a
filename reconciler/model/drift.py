"""Drift report types (docs/drift.md): pure data, no behaviour beyond summaries.

``reconciler.engine.drift`` computes them; the drift views (text, JSON,
Markdown, Prometheus) and the ``drift`` command read them. They live in
``model`` so that views depend on the data, not on the engine.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import READY_STATUSES
from reconciler.model.plan import FieldChange, PrecheckFinding

__all__ = ["AddonDrift", "ClusterDrift", "DriftKind", "DriftReport"]


class DriftKind(enum.Enum):
    """One way an add-on differs; the ``kind`` label of the Prometheus metric."""

    VERSION = "version"
    VALUES = "values"
    MISSING = "missing"
    RECREATED = "recreated"
    UNMANAGED = "unmanaged"
    PENDING = "pending"
    UNHEALTHY = "unhealthy"
    RISK = "risk"
    IN_PROGRESS = "in-progress"
    """An operation (install, upgrade, rollback, delete) is running: not an
    error and not ``unhealthy``; drift, since live is not yet what was applied."""


@dataclass(frozen=True)
class AddonDrift:
    """What drift found for one add-on (template name) of one cluster."""

    addon: str
    kinds: tuple[DriftKind, ...]
    """Empty: the add-on is where the last apply left it, healthy, and the plan
    has nothing to do."""
    declared: bool = False
    managed: bool = False
    """In the cluster's state file."""
    state_version: str = ""
    state_uid: str = ""
    live_version: str = ""
    live_uid: str = ""
    status: str = ""
    """Live ``status.status`` ("" when not live)."""
    status_reason: str = ""
    status_message: str = ""
    value_changes: tuple[FieldChange, ...] = ()
    """State → live, one per differing leaf; sensitive ones carry no values."""
    pending_action: str = ""
    """The plan's action (``update``, ``install`` …) when ``PENDING``."""
    pending_reason: str = ""
    pending_changes: tuple[FieldChange, ...] = ()
    """Live → what apply would send (the plan's field changes)."""
    risks: tuple[PrecheckFinding, ...] = ()
    """Failed checks of the running-add-on inspection (``--inspect``)."""

    @property
    def healthy(self) -> bool | None:
        """None when nothing runs to be healthy or not."""
        if not self.live_uid:
            return None
        return self.status in READY_STATUSES


@dataclass(frozen=True)
class ClusterDrift:
    name: str
    cluster_id: str
    endpoint: str = ""
    addons: tuple[AddonDrift, ...] = ()
    """Declared add-ons in file order, then the others by name."""
    errors: tuple[Diagnostic, ...] = ()
    """Why the cluster (or some add-on) could not be checked; any makes the run fail."""
    warnings: tuple[Diagnostic, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    """The cluster's ``labels:`` (alerting groups and routes by them)."""
    wave: str = ""
    """The cluster's rollout wave ("" without a ``rollout:`` block)."""

    @property
    def drifted(self) -> bool:
        """An unmanaged add-on alone is not drift: it is reported, but nobody
        declared it (CCE installs some itself), so it would alert forever."""
        return any(set(a.kinds) - {DriftKind.UNMANAGED} for a in self.addons)


@dataclass(frozen=True)
class DriftReport:
    clusters: tuple[ClusterDrift, ...]
    generated_at: str
    """RFC 3339 UTC, given by the caller (the engine has no clock)."""
    tool_version: str
    inspected: bool = False
    """The running-add-on inspection was run (``--inspect``)."""

    @property
    def has_errors(self) -> bool:
        return any(c.errors for c in self.clusters)

    @property
    def drifted(self) -> bool:
        return any(c.drifted for c in self.clusters)
