"""What an apply did, per add-on and cluster (data only: views/apply.py writes its text)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from reconciler.model.plan import Action

__all__ = [
    "AddonResult",
    "ApplyResult",
    "ApplyStopped",
    "ClusterResult",
    "Outcome",
    "Progress",
    "Stop",
]


class Outcome(enum.Enum):
    INSTALLED = "installed"
    UPGRADED = "upgraded"
    UPDATED = "updated"
    REPAIRED = "repaired"
    """A failed or abnormal add-on was re-sent and became healthy."""
    DOWNGRADED = "downgraded"
    DELETED = "deleted"
    ADOPTED = "adopted"
    REFRESHED = "refreshed"
    """State only: live recorded (or a vanished instance forgotten), nothing sent."""
    BLOCKED = "blocked"
    """Stopped by a precheck (server risk or local check) before any write."""
    SKIPPED = "skipped"
    """Not attempted because an add-on it depends on was blocked or failed."""
    FAILED = "failed"
    ROLLED_BACK = "rolled back"
    """The upgrade failed and was rolled back (still counts as a failure)."""

    @property
    def ok(self) -> bool:
        return self not in (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.FAILED, Outcome.ROLLED_BACK)


DONE_BY_ACTION = {
    Action.INSTALL: Outcome.INSTALLED,
    Action.UPGRADE: Outcome.UPGRADED,
    Action.UPDATE: Outcome.UPDATED,
    Action.REPAIR: Outcome.REPAIRED,
    Action.DOWNGRADE: Outcome.DOWNGRADED,
    Action.DELETE: Outcome.DELETED,
    Action.ADOPT: Outcome.ADOPTED,
    Action.REFRESH: Outcome.REFRESHED,
}


@dataclass(frozen=True)
class AddonResult:
    cluster: str
    addon: str
    action: Action
    outcome: Outcome
    message: str = ""
    """For the user: why it was blocked or failed (server Reason and message)."""
    from_version: str = ""
    to_version: str = ""
    elapsed_s: float = 0.0
    precheck_task_ids: tuple[str, ...] = ()
    accepted_risks: tuple[str, ...] = ()
    adopting: bool = False
    """The change also took the instance under management (an update or
    upgrade of an unmanaged instance counts as updated/upgraded, marked so)."""


@dataclass(frozen=True)
class ClusterResult:
    name: str
    addons: tuple[AddonResult, ...] = ()
    error: str = ""
    """Set when the cluster was not applied at all (locked, stale, unreadable…)."""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and all(r.outcome.ok for r in self.addons)


@dataclass(frozen=True)
class ApplyResult:
    plan_id: str
    clusters: tuple[ClusterResult, ...]
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.clusters)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.clusters for r in c.addons if r.outcome is outcome)

    def count_adopting(self, outcome: Outcome) -> int:
        """Results of ``outcome`` that also adopted their instance."""
        return sum(1 for c in self.clusters for r in c.addons
                   if r.outcome is outcome and r.adopting)


class Stop(enum.Enum):
    """Why an apply ended before its first write."""

    NOTHING_TO_APPLY = "nothing to apply"
    """The plan of the desired-state files has no changes."""
    CANCELLED = "cancelled"
    """The user did not type 'yes'."""
    STALE = "stale"
    """The saved plan no longer matches the state or the live add-ons."""
    SAVED_PLAN_EMPTY = "saved plan empty"
    """The saved plan has no changes."""
    POLICY_DENIED = "policy denied"
    """An operator policy denies the plan and no ``--accept-policy`` overrides it."""


@dataclass(frozen=True)
class ApplyStopped:
    """An apply that wrote nothing; ``ok`` decides the exit code (0 or 1)."""

    reason: Stop
    ok: bool
    stale_reasons: tuple[str, ...] = ()


class Progress(Protocol):
    """Where a running apply reports as it goes. The run calls it; views implement
    it (terminal lines or log lines), so it lives with the data it carries."""

    def step(self, cluster: str, text: str) -> None:
        """The cluster has started something (``coredns: upgrading 1.2 → 1.3``)."""

    def addon_done(self, result: AddonResult) -> None: ...

    def cluster_done(self, result: ClusterResult) -> None: ...

    def close(self) -> None: ...
