"""Copy every cluster's state and journal from one backend to another."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.errors import StateConflictError, StateError
from reconciler.statemgr.statefile import to_json

__all__ = ["Migrated", "migrate"]


@dataclass(frozen=True)
class Migrated:
    cluster_name: str
    state: str
    """``copied``, ``updated`` (same lineage, target was behind) or ``unchanged``."""
    journal_records_copied: int


def migrate(
    source: StateBackend, target: StateBackend, *, lock_timeout_s: float = 0.0
) -> list[Migrated]:
    """Copy each cluster of ``source`` to ``target``, verified; safe to re-run.

    Each cluster is copied under its lock in both backends (source first).
    Per cluster:

    - target has no state: the state is copied as is (same lineage and serial,
      so saved plans stay bound to it);
    - target holds the identical state: left alone;
    - target holds the same lineage at a lower serial (an earlier migration,
      then more applies on the source): brought forward;
    - anything else (another lineage, or the target is ahead or has diverged)
      is refused with ``StateConflictError`` and the cluster is not touched:
      which copy is right is a human decision, and the way to say "the source
      wins" is to remove the target's state first. There is deliberately no
      overwrite flag: overwriting another lineage loses that history.

    The journal is copied the same way: the target's records must be the
    source's first records (none, all of them, or a prefix from an earlier
    run), and the missing ones are appended in order; otherwise refused.
    After copying, state and journal are read back from the target and
    compared; a difference raises ``StateError``. Nothing is removed from
    ``source``.
    """
    results: list[Migrated] = []
    for cluster_name in source.list():
        with (
            source.lock(cluster_name, "migrate", lock_timeout_s),
            target.lock(cluster_name, "migrate", lock_timeout_s),
        ):
            results.append(_migrate_one(source, target, cluster_name))
    return results


def _migrate_one(source: StateBackend, target: StateBackend, cluster_name: str) -> Migrated:
    state = source.read(cluster_name)
    if state is None:  # removed since listed
        return Migrated(cluster_name, "unchanged", 0)
    records = source.read_journal(cluster_name)
    existing = target.read(cluster_name)
    existing_records = target.read_journal(cluster_name)
    where = f"cluster {cluster_name!r} in {target.description}"
    if existing_records != records[: len(existing_records)]:
        raise StateConflictError(
            f"{where} has journal records the source {source.description} does not;"
            " refusing to mix two histories. Remove the target's state first if the"
            " source is right."
        )
    if existing is None:
        outcome = "copied"
    elif to_json(existing) == to_json(state):
        outcome = "unchanged"
    elif existing.lineage == state.lineage and existing.serial < state.serial:
        outcome = "updated"
    else:
        raise StateConflictError(
            f"{where} is at lineage {existing.lineage} serial {existing.serial}, the source"
            f" {source.description} at lineage {state.lineage} serial {state.serial};"
            " refusing to overwrite it. Remove the target's state first if the source is right."
        )
    if outcome != "unchanged":
        target.replace(existing, state)
    missing = records[len(existing_records) :]
    for record in missing:
        target.append_journal(cluster_name, record)
    copied = target.read(cluster_name)
    if copied is None or to_json(copied) != to_json(state):
        raise StateError(f"{where}: the state read back differs from the source's")
    if target.read_journal(cluster_name) != records:
        raise StateError(f"{where}: the journal read back differs from the source's")
    return Migrated(cluster_name, outcome, len(missing))
