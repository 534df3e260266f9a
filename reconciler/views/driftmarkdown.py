"""The Markdown view of a drift report (an issue, a chat post, a PR comment),
from a Jinja2 template and the report's canonical JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache

import jinja2

from reconciler.model.json import JSON
from reconciler.views.drifttext import addon_lines, show_value, summary_line
from reconciler.views.grouping import names_text
from reconciler.views.markdown import GITHUB_COMMENT_LIMIT, Section, fit_sections
from reconciler.views.planview import clusters_text

__all__ = ["DRIFT_MARKER", "GITHUB_COMMENT_LIMIT", "diff_lines", "render_drift_markdown"]


DRIFT_MARKER = "<!-- reconciler-drift -->"
"""First line of the Markdown: lets a bot find and update its previous post."""

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_BACKTICKS = re.compile(r"`+")
# Room for the note, the "sections omitted" line and the final newline.
_NOTE_RESERVE = 300
_STATUS_MARK = {"clean": "✅", "drifted": "⚠️", "error": "⛔"}


def _md(value: object) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _code(value: object) -> str:
    text = " ".join(str(value).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.views", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown: escaping is explicit, per context, via filters
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=_md, code=_code)
    return env


def _diagnostic(d: Mapping[str, JSON]) -> str:
    where = f"{d['location']}: " if d["location"] else ""
    return f"{where}{d['message']}"


def _with_fences(lines: list[tuple[str, list[str]]]) -> list[tuple[str, list[str], str]]:
    """Each detail block with a fence longer than any backtick run inside it."""
    out = []
    for headline, details in lines:
        longest = max((len(m) for d in details for m in _BACKTICKS.findall(d)), default=0)
        out.append((headline, details, "`" * max(3, longest + 1)))
    return out


def diff_lines(change: Mapping[str, JSON]) -> list[str]:
    """A value change as ``-`` (last applied) and ``+`` (live) lines: GitHub's
    ``diff`` highlighting colours only those, not ``~``."""
    path = change["path"]
    if change.get("sensitive"):
        return [f"- {path}: (sensitive)", f"+ {path}: (sensitive)"]
    if change["kind"] == "added":
        return [f"+ {path}: {show_value(change['after'])}"]
    if change["kind"] == "removed":
        return [f"- {path}: {show_value(change['before'])}"]
    return [f"- {path}: {show_value(change['before'])}",
            f"+ {path}: {show_value(change['after'])}"]


def _cluster_context(c: Mapping[str, JSON]) -> dict[str, JSON]:
    drifted = [a for a in c["addons"] if a["kinds"]]
    return {
        "name": c["name"],
        "status": c["status"],
        "mark": _STATUS_MARK[c["status"]],
        "addon_names": [f"{_code(a['addon'])} ({', '.join(a['kinds'])})" for a in drifted],
        "errors": [_diagnostic(d) for d in c["errors"]],
        "warnings": [_diagnostic(d) for d in c["warnings"]],
        "addons": [{"name": a["addon"], "lines": _with_fences(addon_lines(a, diff_lines))}
                   for a in drifted],
    }


def _grouped_sections(clusters: list[dict[str, JSON]]) -> list[dict[str, JSON]]:
    """One section per distinct drift: clusters drifted alike share one, headed by
    their names (a count and the first names when many). A cluster with errors
    keeps its own section: its errors are never grouped away."""
    groups: dict[tuple[str, str], list[dict[str, JSON]]] = {}
    for c in clusters:
        if c["status"] == "clean":
            continue
        # The rendered lines are compared, so secrets are compared as shown: redacted.
        key = (("own", str(c["name"])) if c["errors"] else
               ("alike", json.dumps([c["status"], c["warnings"], c["addons"]], sort_keys=True)))
        groups.setdefault(key, []).append(c)
    sections = []
    for members in groups.values():
        if len(members) == 1:
            sections.append(members[0])
            continue
        names = [str(m["name"]) for m in members]
        sections.append({**members[0], "name": f"{clusters_text(len(names))}: {names_text(names)}"})
    return sections


def _collapsed_line(c: Mapping[str, JSON]) -> str:
    addons = c["addons"]
    assert isinstance(addons, list)
    return (f"{len(c['errors'])} error(s), {len(addons)} drifted add-on(s): "
            "details left out to fit the comment size limit")


def render_drift_markdown(report: Mapping[str, JSON], *,
                          max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """The report as Markdown under ``max_chars`` (GitHub rejects comments over
    65,536): the largest cluster sections are collapsed to one line, then the
    last ones dropped, then clean rows left out of the table, and a note says so."""
    env = _environment()
    clusters = [_cluster_context(c) for c in report["clusters"]]
    section = env.get_template("drift-cluster.md.j2")
    sections = [
        Section(section.render(c=c, collapsed=""),
                 section.render(c=c, collapsed=_collapsed_line(c)))
        for c in _grouped_sections(clusters)
    ]
    drifted = report["summary"]["drifted"]
    title = "Drift detected" if drifted else "No drift"
    if report["summary"]["error"]:
        title += " (some clusters could not be checked)"

    def header(rows: list[dict[str, JSON]], note: str) -> str:
        return env.get_template("drift.md.j2").render(
            marker=DRIFT_MARKER, title=title, summary=summary_line(report),
            clusters=rows, note=note).strip("\n")

    rows, hidden = _table_rows(clusters, lambda r: len(header(r, "")), max_chars // 2)
    head = header(rows, "")
    chosen, truncated, omitted = fit_sections(sections, max_chars - len(head) - _NOTE_RESERVE)
    note = _note(truncated, omitted, hidden)
    if note:
        head = header(rows, note)
    parts = [head, *chosen]
    if omitted:
        parts.append(f"… {omitted} more cluster section(s) omitted.")
    return "\n\n".join(p.strip("\n") for p in parts)


def _table_rows(clusters: list[dict[str, JSON]], size: Callable[[list[dict[str, JSON]]], int],
                budget: int) -> tuple[list[dict[str, JSON]], int]:
    """The table's rows, clean clusters left out (then the last rows) if it alone
    would take more than ``budget``; returns the rows and how many were left out."""
    if size(clusters) <= budget:
        return clusters, 0
    rows = [c for c in clusters if c["status"] != "clean"]
    while rows and size(rows) > budget:
        rows = rows[: len(rows) * 3 // 4]
    return rows, len(clusters) - len(rows)


def _note(truncated: int, omitted: int, hidden: int) -> str:
    parts = []
    if truncated:
        parts.append(f"{truncated} cluster section(s) truncated")
    if omitted:
        parts.append(f"{omitted} cluster section(s) omitted")
    if hidden:
        parts.append(f"{hidden} table row(s) left out")
    if not parts:
        return ""
    return ("The report is shortened to fit a comment: " + ", ".join(parts)
            + "; run `reconciler drift --format json` for the full report.")
