"""When a drift run notifies: only when its drift set changed since the last notified run.

The set is what drifted (cluster, add-on, kinds) and which clusters could not
be checked; its digest, with when it was last sent, is kept in the state
backend (``read_blob``/``write_blob``) so that every cron run, wherever it
runs, sees the same memory. ``--notify-repeat`` re-sends an unchanged drift
as a reminder once that long has passed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from reconciler.model.drift import DriftKind, DriftReport

__all__ = ["DriftMemory", "decide", "drift_digest", "memory_key"]

CLEAN = ""
"""The digest of a run that found nothing (no drift, no errors)."""


@dataclass(frozen=True)
class DriftMemory:
    digest: str
    notified_at: str
    """RFC 3339 UTC."""

    def to_bytes(self) -> bytes:
        return json.dumps({"digest": self.digest, "notified_at": self.notified_at},
                          sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> DriftMemory | None:
        """None when nothing (or nothing usable) is stored: then the run notifies."""
        if data is None:
            return None
        try:
            doc = json.loads(data)
            return cls(digest=str(doc["digest"]), notified_at=str(doc["notified_at"]))
        except (ValueError, KeyError, TypeError):
            return None


def memory_key(report: DriftReport) -> str:
    """One memory per set of clusters watched: two crons over different fleets
    sharing a store don't clear each other's drift."""
    names = "\n".join(sorted(c.name for c in report.clusters))
    return "notify-drift-" + hashlib.sha256(names.encode()).hexdigest()[:16]


def drift_digest(report: DriftReport) -> str:
    items = sorted(
        [f"drift {c.name} {a.addon} {','.join(sorted(k.value for k in a.kinds))}"
         for c in report.clusters for a in c.addons
         if set(a.kinds) - {DriftKind.UNMANAGED}]
        + [f"error {c.name}" for c in report.clusters if c.errors])
    if not items:
        return CLEAN
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def decide(previous: DriftMemory | None, digest: str, now: datetime,
           repeat_s: float | None) -> tuple[str, bool] | None:
    """The event to send (``drift.found``, ``drift.changed``, ``drift.cleared``)
    and whether it is a reminder, or None to stay quiet."""
    before = previous.digest if previous is not None else CLEAN
    if digest == before:
        if digest == CLEAN or repeat_s is None or previous is None:
            return None
        sent = datetime.fromisoformat(previous.notified_at.replace("Z", "+00:00"))
        if (now - sent).total_seconds() < repeat_s:
            return None
        return "drift.found", True
    if digest == CLEAN:
        return "drift.cleared", False
    return ("drift.found" if before == CLEAN else "drift.changed"), False
