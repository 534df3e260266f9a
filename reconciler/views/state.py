"""The output of ``reconciler state list`` (text and JSON) and ``reconciler state show``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.model.state import StateFile
from reconciler.statemgr.migrate import Migrated

__all__ = [
    "HEALTH_NOTE",
    "Listed",
    "last_records",
    "migrate_text",
    "render_state",
    "state_list_json",
    "state_list_text",
]


HEALTH_NOTE = ("Health is not read live: LAST is the add-on's last journaled result;"
               " reconciler drift reads live health.")


@dataclass(frozen=True)
class Listed:
    """A cluster's state with, per add-on, its last journal record (if any)."""

    state: StateFile
    last: Mapping[str, Mapping[str, Any]]


def last_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Per add-on, its newest journal record that did something (prechecks
    and the rollout's own records say nothing about the add-on's outcome)."""
    last: dict[str, Mapping[str, Any]] = {}
    for record in records:
        addon = record.get("addon")
        if addon and record.get("action") not in ("precheck", "state rm"):
            last[str(addon)] = record
    return last


def state_list_text(state_dir: Path | str, listed: Sequence[Listed]) -> str:
    """One aligned row per managed add-on (newline-terminated), or a line saying there are none."""
    if not listed:
        return f"No state files in {state_dir}.\n"
    # The id is what binds a state to its cluster (a renamed key finds its
    # state by it), so a listing shows it in full.
    rows = [("CLUSTER", "CLUSTER-ID", "SERIAL", "LINEAGE", "ADD-ON", "VERSION", "LAST")]
    for item in listed:
        s = item.state
        head = (s.cluster_name, s.cluster_id or "-", str(s.serial), s.lineage[:8])
        if not s.addons:
            rows.append((*head, "-", "-", "-"))
        for name in sorted(s.addons):
            rows.append((*head, name, s.addons[name].version, _last_text(item.last.get(name))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + f"\n{HEALTH_NOTE}\n"


def state_list_json(where: str, listed: Sequence[Listed]) -> str:
    """``state list --format json``: every cluster and managed add-on, one document."""
    clusters = []
    for item in listed:
        s = item.state
        addons = []
        for name in sorted(s.addons):
            addon, last = s.addons[name], item.last.get(name)
            addons.append({
                "name": name, "version": addon.version, "applied_at": addon.applied_at,
                "plan_id": addon.plan_id,
                "last_result": None if last is None else {
                    key: last.get(key, "") for key in ("time", "action", "result")},
            })
        clusters.append({"cluster": s.cluster_name, "cluster_id": s.cluster_id,
                         "project_id": s.project_id, "serial": s.serial,
                         "lineage": s.lineage, "addons": addons})
    document = {"backend": where, "note": HEALTH_NOTE, "clusters": clusters}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _last_text(record: Mapping[str, Any] | None) -> str:
    if record is None:
        return "-"
    when = str(record.get("time", ""))[:19].replace("T", " ")
    return f"{record.get('result') or record.get('action') or '?'} {when}".rstrip()


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
