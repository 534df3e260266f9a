"""``reconciler history``: the journal as a timeline.

The journal records what happened to a cluster (installs, upgrades,
prechecks, wave gates, ``state rm``/``state mv``); this module picks the
records a query asks for and renders them as one aligned row each, oldest
first, or as JSON. It never reads values: journal records hold none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["HistoryQuery", "history_json", "history_text", "parse_since", "select_records"]

_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d`` (also ``s`` and ``w``) as a duration; ``ValueError`` otherwise."""
    found = _SINCE.match(text.strip())
    if found is None:
        raise ValueError(
            f"{text!r} is not a duration: give a whole number and a unit,"
            " e.g. 30m, 24h, 7d (units: s, m, h, d, w)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


class HistoryQuery:
    """Which records to show: an add-on, and those at or after ``since``."""

    def __init__(self, addon: str | None = None, since: datetime | None = None) -> None:
        self.addon = addon
        self.since = since

    def keeps(self, record: Mapping[str, Any]) -> bool:
        if self.addon is not None and not _touches(record, self.addon):
            return False
        if self.since is not None:
            when = record_time(record)
            # A record whose time can't be read can't be placed after ``since``.
            return when is not None and when >= self.since
        return True


def record_time(record: Mapping[str, Any]) -> datetime | None:
    """The record's ``time`` as an aware UTC datetime, or None if it has none readable."""
    raw = record.get("time")
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def select_records(
    journals: Iterable[tuple[str, Sequence[Mapping[str, Any]]]], query: HistoryQuery
) -> list[dict[str, Any]]:
    """The records of every ``(cluster, journal)`` that ``query`` keeps, each
    naming its cluster, in time order (newest last; a record without a readable
    time keeps its place after the ones before it in its journal)."""
    picked: list[tuple[datetime, int, dict[str, Any]]] = []
    order = 0
    for cluster, records in journals:
        last = datetime.min.replace(tzinfo=UTC)
        for record in records:
            when = record_time(record) or last
            last = when
            if query.keeps(record):
                picked.append((when, order, {**record, "cluster": cluster}))
            order += 1
    picked.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in picked]


def history_text(records: Sequence[Mapping[str, Any]], where: str) -> str:
    """One aligned row per record (newline-terminated), or a line saying there are none."""
    if not records:
        return f"No journal records match in {where}.\n"
    rows = [("TIME", "CLUSTER", "ACTOR", "ACTION", "ADD-ON", "VERSIONS", "RESULT", "PLAN")]
    rows += [
        (
            _short_time(record),
            str(record.get("cluster", "")),
            _actor(record.get("actor")),
            str(record.get("action", "")) or "-",
            _addons(record),
            _versions(record),
            str(record.get("result", "")) or "-",
            str(record.get("plan_id", "")) or "-",
        )
        for record in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def history_json(records: Sequence[Mapping[str, Any]]) -> str:
    """Every selected record in full, newest last, as one JSON array."""
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"


def _touches(record: Mapping[str, Any], addon: str) -> bool:
    if record.get("addon") == addon:
        return True
    many = record.get("addons")
    return isinstance(many, list) and addon in many


def _short_time(record: Mapping[str, Any]) -> str:
    when = record_time(record)
    if when is None:
        return str(record.get("time", "")) or "-"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _actor(actor: object) -> str:
    if isinstance(actor, str):
        return actor or "-"
    if isinstance(actor, Mapping):
        user, host = actor.get("user"), actor.get("host")
        if user and host:
            return f"{user}@{host}"
        parts = [str(v) for v in actor.values() if isinstance(v, str | int) and v != ""]
        return " ".join(parts) or "-"
    return "-"


def _addons(record: Mapping[str, Any]) -> str:
    if record.get("addon"):
        return str(record["addon"])
    many = record.get("addons")
    if isinstance(many, list) and many:
        return ",".join(str(a) for a in many)
    return "-"


def _versions(record: Mapping[str, Any]) -> str:
    before, after = record.get("from_version") or "", record.get("to_version") or ""
    if record.get("action") == "state mv":
        return f"{record.get('from', '')} -> {record.get('to', '')}"
    if before and after and before != after:
        return f"{before} -> {after}"
    return str(after or before) or "-"
