"""What an apply did, per add-on and cluster, and its one-line summary."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.model.plan import Action

__all__ = ["AddonResult", "ApplyResult", "ClusterResult", "Outcome", "Progress"]


class Outcome(enum.Enum):
    INSTALLED = "installed"
    UPGRADED = "upgraded"
    UPDATED = "updated"
    DELETED = "deleted"
    ADOPTED = "adopted"
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
    Action.DELETE: Outcome.DELETED,
    Action.ADOPT: Outcome.ADOPTED,
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

    def summary(self) -> str:
        done = ", ".join(
            f"{self.count(o)} {o.value}"
            for o in (Outcome.INSTALLED, Outcome.UPGRADED, Outcome.UPDATED, Outcome.DELETED,
                      Outcome.ADOPTED)
        )
        problems = [f"{self.count(Outcome.BLOCKED)} blocked"]
        if self.count(Outcome.SKIPPED):
            problems.append(f"{self.count(Outcome.SKIPPED)} skipped")
        failed = self.count(Outcome.FAILED) + self.count(Outcome.ROLLED_BACK)
        problems.append(f"{failed} failed")
        cluster_errors = sum(1 for c in self.clusters if c.error)
        if cluster_errors:
            problems.append(f"{cluster_errors} cluster(s) not applied")
        return f"Apply complete: {done}; {', '.join(problems)}."

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "plan_id": self.plan_id,
            "ok": self.ok,
            "summary": {
                **{o.value: self.count(o) for o in Outcome},
                "clusters_not_applied": sum(1 for c in self.clusters if c.error),
            },
            "clusters": [
                {
                    "name": c.name,
                    "error": c.error,
                    "elapsed_s": round(c.elapsed_s, 3),
                    "addons": [
                        {
                            "addon": r.addon,
                            "action": r.action.value,
                            "outcome": r.outcome.value,
                            "from_version": r.from_version,
                            "to_version": r.to_version,
                            "message": r.message,
                            "elapsed_s": round(r.elapsed_s, 3),
                            "precheck_task_ids": list(r.precheck_task_ids),
                            "accepted_risks": list(r.accepted_risks),
                        }
                        for r in c.addons
                    ],
                }
                for c in self.clusters
            ],
        }


class Progress(Protocol):
    """Where a running apply reports as it goes. The run calls it; views implement
    it (terminal lines or log lines), so it lives with the data it carries."""

    def step(self, cluster: str, text: str) -> None:
        """The cluster has started something (``coredns: upgrading 1.2 → 1.3``)."""

    def addon_done(self, result: AddonResult) -> None: ...

    def cluster_done(self, result: ClusterResult) -> None: ...

    def close(self) -> None: ...
