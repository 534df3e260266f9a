"""The terminal view of a drift report, read from its canonical JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from reconciler.model.json import JSON
from reconciler.views.ansi import style
from reconciler.views.unreachable import short_unreachable

__all__ = ["KIND_WORDS", "addon_lines", "change_line", "render_drift_text", "show_value"]


KIND_WORDS = {
    "version": "version changed outside",
    "values": "values changed outside",
    "missing": "missing",
    "recreated": "re-created outside",
    "unmanaged": "unmanaged",
    "pending": "pending",
    "unhealthy": "unhealthy",
    "risk": "inspection risk",
    "in-progress": "in progress",
}
_STATUS_COLOUR = {"clean": "green", "drifted": "yellow", "error": "red"}


def show_value(value: JSON) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def change_line(change: Mapping[str, JSON]) -> str:
    """``~ path: before → after`` (``+``/``-`` for added/removed keys)."""
    path = change["path"]
    if change.get("sensitive"):
        return f"~ {path}: (sensitive)"
    if change["kind"] == "added":
        return f"+ {path}: {show_value(change['after'])}"
    if change["kind"] == "removed":
        return f"- {path}: {show_value(change['before'])}"
    return f"~ {path}: {show_value(change['before'])} → {show_value(change['after'])}"


def summary_line(report: Mapping[str, JSON]) -> str:
    s = report["summary"]
    errors = f", {s['error']} could not be checked" if s["error"] else ""
    return (f"Drift: {s['drifted']} of {s['clusters']} cluster(s) drifted{errors} "
            f"(checked {report['generated_at']}).")


def _one_line(change: Mapping[str, JSON]) -> list[str]:
    return [change_line(change)]


ChangeLines = Callable[[Mapping[str, JSON]], list[str]]


def addon_lines(addon: Mapping[str, JSON],
                changes: ChangeLines = _one_line) -> list[tuple[str, list[str]]]:
    """One (headline, detail lines) per drift kind of the add-on; ``changes``
    renders one value change (the Markdown view wants ``-``/``+`` pairs)."""
    out: list[tuple[str, list[str]]] = []
    state = addon["state"] or {}
    live = addon["live"] or {}
    changed = addon["changed_outside"]
    for kind in addon["kinds"]:
        word = KIND_WORDS[kind]
        if kind == "version":
            v = changed["version"]
            out.append((f"{word}: {v['before']} → {v['after']} (last applied → live)", []))
        elif kind == "values":
            out.append((f"{word} (last applied → live)",
                        [line for c in changed["values"] for line in changes(c)]))
        elif kind == "missing":
            out.append((f"{word}: in state (version {state['version']}, uid {state['uid']}) "
                        "but not live", []))
        elif kind == "recreated":
            out.append((f"{word}: state has uid {state['uid']}, live is {live['uid']}", []))
        elif kind == "unmanaged":
            out.append((f"{word}: {live['version']} runs, neither declared nor in state", []))
        elif kind == "pending":
            p = addon["pending"]
            # An install's "changes" are every key of a new add-on: not worth a line each.
            details = [] if p["action"] == "install" else [
                line for c in p["values"] for line in changes(c)]
            out.append((f"{word}: the plan would {p['action']} ({p['reason']})", details))
        elif kind == "in-progress":
            out.append((f"{word}: {live['status']} (live is not yet what was last applied; "
                        "a change the files ask for waits for it)", []))
        elif kind == "unhealthy":
            why = ": ".join(x for x in (live.get("reason"), live.get("message")) if x)
            out.append((f"{word}: {live['status']}" + (f" ({why})" if why else ""), []))
        elif kind == "risk":
            out.append((word, [f"{r['name']} ({r['level']}): {r['message']}"
                               for r in addon["risks"]]))
    return out


def _cluster_lines(cluster: Mapping[str, JSON], color: bool) -> list[str]:
    status = cluster["status"]
    shown = style(status, fg=_STATUS_COLOUR[status], bold=True) if color else status
    lines = [f"{cluster['name']} ({cluster['cluster_id']}): {shown}"]
    for d in cluster["errors"]:
        # An unreachable endpoint's error is said in full once, on stderr.
        lines.append(f"  error: {short_unreachable(d['message']) or _diagnostic(d)}")
    for d in cluster["warnings"]:
        lines.append(f"  warning: {_diagnostic(d)}")
    for addon in cluster["addons"]:
        for headline, details in addon_lines(addon):
            lines.append(f"  {addon['addon']}: {headline}")
            lines.extend(f"      {d}" for d in details)
    return lines


def _diagnostic(d: Mapping[str, JSON]) -> str:
    where = f"{d['location']}: " if d["location"] else ""
    hint = f" ({d['hint']})" if d["hint"] else ""
    return f"{where}{d['message']}{hint}"


def render_drift_text(report: Mapping[str, JSON], *, color: bool) -> str:
    lines: list[str] = [summary_line(report), ""]
    clusters: Sequence[Mapping[str, JSON]] = report["clusters"]
    for cluster in clusters:
        lines.extend(_cluster_lines(cluster, color))
    return "\n".join(lines)
