"""The text of ``reconciler state list`` and ``reconciler state show``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from reconciler.model.state import StateFile
from reconciler.statemgr.migrate import Migrated

__all__ = ["migrate_text", "render_state", "state_list_text"]


def state_list_text(state_dir: Path | str, states: Sequence[StateFile]) -> str:
    """One aligned row per state file (newline-terminated), or a line saying there are none."""
    if not states:
        return f"No state files in {state_dir}.\n"
    # The id is what binds a state to its cluster (a renamed key finds its
    # state by it), so a listing shows it in full.
    rows = [("CLUSTER", "CLUSTER-ID", "SERIAL", "LINEAGE", "ADD-ONS")]
    rows += [(s.cluster_name, s.cluster_id or "-", str(s.serial), s.lineage[:8],
              str(len(s.addons))) for s in states]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


def render_state(current: StateFile) -> str:
    """What ``state show`` prints: the header, then each add-on with its values (no newline)."""
    lines = [
        f"cluster:  {current.cluster_name} (id {current.cluster_id or '-'},"
        f" project {current.project_id or '-'})",
        f"lineage:  {current.lineage}",
        f"serial:   {current.serial}",
        f"add-ons:  {len(current.addons)}",
    ]
    for name in sorted(current.addons):
        addon = current.addons[name]
        lines += [
            "",
            f"{name} {addon.version}",
            f"  uid:             {addon.uid}",
            f"  applied at:      {addon.applied_at}",
            f"  plan:            {addon.plan_id or '-'}",
            f"  values digest:   {addon.values_digest}",
            f"  precheck tasks:  {', '.join(addon.precheck_task_ids) or '-'}",
            f"  accepted risks:  {', '.join(addon.accepted_risks) or '-'}",
            "  values:",
        ]
        # Values in state are already hashed where sensitive; YAML reads best for nesting.
        dumped = yaml.safe_dump(dict(addon.values), sort_keys=True, allow_unicode=True)
        lines += ["    " + line for line in dumped.rstrip("\n").splitlines()]
    return "\n".join(lines)


def migrate_text(source: str, target: str, results: Sequence[Migrated]) -> str:
    """What ``state migrate`` did, a line per cluster and a total."""
    lines = [f"{m.cluster_name}: {m.state} (journal: {m.journal_records_copied} record(s) copied)"
             for m in results]
    copied = sum(1 for m in results if m.state != "unchanged")
    lines.append(f"Migrated {copied} of {len(results)} cluster state(s) from {source} to {target};"
                 " verified by reading them back. Nothing was removed from the source.")
    return "\n".join(lines)
