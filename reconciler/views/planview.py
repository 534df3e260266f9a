"""Wording shared by the human plan views, read from the canonical JSON plan.

Keeping symbols, the summary line and value formatting in one place is what
makes the text and Markdown views say the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.model import valuepaths
from reconciler.model.sensitive import is_redacted

__all__ = [
    "MANAGED_UNDECLARED",
    "OPTIONAL_ACTIONS",
    "SENSITIVE_TEXT",
    "SUMMARY_ACTIONS",
    "SYMBOLS",
    "JSONDict",
    "action_text",
    "changed",
    "clusters_text",
    "constraint_text",
    "diagnostic_text",
    "diff_lines",
    "finding_outcome",
    "findings",
    "format_value",
    "headline",
    "one_line",
    "plural",
    "policy_heading",
    "policy_rows",
    "problems_heading",
    "provenance_rows",
    "summary_line",
    "targets_warning",
    "version_text",
]

JSONDict = dict[str, Any]

SYMBOLS: Mapping[str, str] = {
    "install": "+",
    "upgrade": "↑",
    "update": "~",
    "repair": "!",
    "downgrade": "↓",
    "delete": "-",
    "adopt": "⇐",
    "no-op": " ",
    "refresh": "↻",
}
SUMMARY_ACTIONS = ("install", "upgrade", "downgrade", "update", "repair", "delete", "adopt")
"""In summary-line order; ``OPTIONAL_ACTIONS`` are counted only when present."""
OPTIONAL_ACTIONS = frozenset({"downgrade", "repair"})
SENSITIVE_TEXT = "(sensitive)"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_line(summary: Mapping[str, Any]) -> str:
    clusters = summary["clusters"]
    if not summary["has_changes"]:
        verb = "matches" if clusters == 1 else "match"
        return f"No changes. {plural(clusters, 'cluster')} {verb} the desired state."
    adopting = summary.get("adopting", {})

    def count(action: str) -> str:
        text = f"{summary.get(action, 0)} to {action}"
        # A write that also adopts is counted as the write it is, marked here.
        return text + (f" ({adopting[action]} adopting)" if adopting.get(action) else "")

    # Actions most plans never have are left out at 0, so that a plan without
    # them reads exactly as before they existed.
    parts = [count(a) for a in SUMMARY_ACTIONS if a not in OPTIONAL_ACTIONS or summary.get(a, 0)]
    if summary.get("refresh"):
        parts.append(f"{summary['refresh']} to refresh (state only)")
    line = f"Plan: {', '.join(parts)} across {plural(clusters, 'cluster')}."
    if summary.get("blocked"):
        # Still changes (apply would try them and stop): said, not subtracted.
        line += f" {summary['blocked']} blocked by precheck."
    return line


def targets_warning(plan: Mapping[str, Any]) -> str:
    """Terraform's "-target is in effect" warning, for a plan made with ``--addon``."""
    targets = plan.get("targets") or []
    if not targets:
        return ""
    return (f"Targeting is in effect (--addon {', '.join(targets)}): only these add-ons are"
            " planned; the plan may be incomplete. Don't use it for routine changes.")


def headline(summary: Mapping[str, Any]) -> tuple[str, str]:
    """``(summary, errors)`` lines; a plan with errors and nothing else has no summary line."""
    if not summary["errors"]:
        return summary_line(summary), ""
    errors = f"{plural(summary['errors'], 'error')}: nothing can be applied until fixed."
    if not summary["has_changes"]:
        return "", f"Plan failed with {errors}"
    return summary_line(summary), errors


def problems_heading(diagnostics: list[JSONDict]) -> str:
    severities = {d["severity"] for d in diagnostics}
    if severities == {"warning"}:
        return "Warnings"
    return "Errors and warnings" if "warning" in severities else "Errors"


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _mask(value: Any) -> Any:
    if is_redacted(value):
        return SENSITIVE_TEXT
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def format_value(value: Any) -> str:
    """Compact JSON on one line; redacted hashes read ``(sensitive)``."""
    # Fast paths: most leaves are scalars, and json.dumps dominates big plans.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if is_redacted(value):
        return SENSITIVE_TEXT
    return json.dumps(_mask(value), ensure_ascii=False, sort_keys=True)


def action_text(change: Mapping[str, Any]) -> str:
    """The action word as shown: a write that also adopts says so."""
    action: str = change["action"]
    if change.get("adopting") and action != "adopt":
        return f"{action} (adopting)"
    return action


def version_text(change: Mapping[str, Any]) -> str:
    before: str = change["before_version"]
    after: str = change["after_version"]
    if change["action"] == "delete":
        return before or after
    if change["action"] in ("upgrade", "downgrade") or (before and after and before != after):
        # A repair may also move the version (back to the one a failed upgrade left).
        return f"{before} → {after}"
    return after or before


def constraint_text(change: Mapping[str, Any]) -> str:
    """``from latest``: the constraint the after-version was resolved from ("" if pinned)."""
    constraint: str = change.get("version_constraint") or ""
    if not constraint or change["action"] == "delete":
        return ""
    return f"from {constraint}"


def clusters_text(count: int) -> str:
    """``1 cluster``, ``1,000 clusters``: fleets are counted with separators."""
    return f"{count:,} cluster" if count == 1 else f"{count:,} clusters"


def diagnostic_text(d: Mapping[str, Any]) -> str:
    location = "<input>"
    if d["file"]:
        location = f"{d['file']}:{d['line']}:{d['column']}" if d["line"] else d["file"]
    text = f"{location}: {d['severity']}: "
    if d["key_path"]:
        text += f"{d['key_path']}: "
    text += d["message"]
    if d["hint"]:
        text += f" ({d['hint']})"
    return one_line(text)


def finding_outcome(finding: Mapping[str, Any]) -> str:
    if finding["blocking"]:
        return "blocking"
    if finding["status"] == "Failed" and finding["accepted"]:
        return "accepted"
    return "passed"


def policy_heading(policy: Mapping[str, Any]) -> str:
    """``Policy: 1 denied, 1 warning (2 files, namespace main)`` or ``Policy: passed (…)``."""
    counts = []
    if policy["denied"]:
        counts.append(f"{policy['denied']} denied")
    if policy["accepted"]:
        counts.append(f"{policy['accepted']} accepted by --accept-policy")
    if policy["warnings"]:
        counts.append(plural(policy["warnings"], "warning"))
    namespaces = ", ".join(policy["namespaces"])
    scope = (f"{plural(len(policy['files']), 'file')},"
             f" namespace{'s' if len(policy['namespaces']) != 1 else ''} {namespaces}")
    return f"Policy: {', '.join(counts) or 'passed'} ({scope})"


def policy_rows(policy: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(outcome, ``namespace.rule``, message) per result: denials first, then
    accepted denials, then warnings; outcome is ``deny``, ``accepted`` or ``warn``."""
    order = {"deny": 0, "accepted": 1, "warn": 2}
    rows = [
        ("accepted" if r["accepted"] else r["level"], f"{r['namespace']}.{r['rule']}",
         one_line(r["message"]))
        for r in policy["results"]
    ]
    return sorted(rows, key=lambda row: (order[row[0]], row[1], row[2]))


def changed(cluster: Mapping[str, Any]) -> list[JSONDict]:
    return [ch for ch in cluster["changes"] if ch["action"] != "no-op"]


def findings(cluster: Mapping[str, Any]) -> list[JSONDict]:
    return [f for ch in cluster["changes"] for f in ch["findings"]]


def diff_lines(change: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` per changed leaf; ``kind`` is added, removed or changed."""
    for fc in change["field_changes"]:
        path = one_line(fc["path"])
        if fc["sensitive"]:
            yield fc["kind"], f"{path}: {SENSITIVE_TEXT}"
        elif fc["kind"] == "added":
            yield "added", f"{path}: {format_value(fc['after'])}"
        elif fc["kind"] == "removed":
            yield "removed", f"{path}: {format_value(fc['before'])}"
        else:
            yield "changed", f"{path}: {format_value(fc['before'])} → {format_value(fc['after'])}"


def provenance_rows(change: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(path, value, source)`` per leaf with a known provenance, sorted by path.

    Values are looked up by walking them rather than splitting paths, because
    keys may contain dots (``stub_domains.acme.local``).
    """
    by_path = dict(valuepaths.nodes(change["values"]))
    # A sensitive plain literal travels in clear in the plan's values (apply
    # sends it as planned); it is hidden here, where the plan is shown.
    hashed = [p for p, v in by_path.items() if is_redacted(v)] + list(change["sensitive_paths"])
    rows = []
    for path, source in sorted(change["provenance"].items()):
        if valuepaths.covered_by_any(path, hashed):
            value = SENSITIVE_TEXT
        elif path in by_path:
            value = format_value(by_path[path])
        else:
            value = "(absent)"
        rows.append((one_line(path), value, source))
    return rows


MANAGED_UNDECLARED = "managed, no longer declared (kept; prune: true deletes it)"
"""How every view names add-ons the state records but the files dropped: they
are still ours (state, drift), unlike the unmanaged ones nobody declared."""
