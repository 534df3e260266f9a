"""The Markdown view of a drift report (an issue, a chat post, a PR comment),
from a Jinja2 template and the report's canonical JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import jinja2

from reconciler.model.json import JSON
from reconciler.views.drifttext import addon_lines, summary_line

__all__ = ["DRIFT_MARKER", "render_drift_markdown"]


DRIFT_MARKER = "<!-- reconciler-drift -->"
"""First line of the Markdown: lets a bot find and update its previous post."""

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_BACKTICKS = re.compile(r"`+")
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


def render_drift_markdown(report: Mapping[str, JSON]) -> str:
    clusters = []
    for c in report["clusters"]:
        drifted = [a for a in c["addons"] if a["kinds"]]
        clusters.append({
            "name": c["name"],
            "status": c["status"],
            "mark": _STATUS_MARK[c["status"]],
            "addon_names": [f"{_code(a['addon'])} ({', '.join(a['kinds'])})" for a in drifted],
            "errors": [_diagnostic(d) for d in c["errors"]],
            "warnings": [_diagnostic(d) for d in c["warnings"]],
            "addons": [{"name": a["addon"], "lines": _with_fences(addon_lines(a))}
                       for a in drifted],
        })
    drifted = report["summary"]["drifted"]
    title = "Drift detected" if drifted else "No drift"
    if report["summary"]["error"]:
        title += " (some clusters could not be checked)"
    text = _environment().get_template("drift.md.j2").render(
        marker=DRIFT_MARKER,
        title=title,
        summary=summary_line(report),
        clusters=clusters,
    )
    return text.rstrip("\n")
