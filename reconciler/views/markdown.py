"""The pull-request view of a plan: Markdown from Jinja2 templates, read from the JSON plan.

Deterministic by construction: everything comes from the plan's own order and
nothing time- or run-dependent (plan id, timestamps) is rendered, so a re-run
on unchanged input gives the same bytes. GitHub rejects comments over 65,536
characters, so the largest cluster sections are collapsed to one line (and, in
extreme cases, dropped) until the comment fits, and the comment says so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from reconciler.views import grouping
from reconciler.views import planview as pv

__all__ = ["GITHUB_COMMENT_LIMIT", "Section", "fit_sections", "render_markdown"]

# GitHub refuses comments over 65,536 characters; keep a margin for wrappers.
GITHUB_COMMENT_LIMIT = 65_000

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_BACKTICK_RUN = re.compile(r"`+")
_OUTCOME_MARK = {"blocking": "⛔", "accepted": "⚠️", "passed": "✅"}
_POLICY_MARK = {"deny": "⛔", "accepted": "⚠️", "warn": "⚠️"}
# Header lists (deletions, risks, errors) are shortened step by step if they
# alone would take more than half of the size budget.
_HEADER_CAPS = (10**9, 50, 10, 0)
# Room for the truncation note, the "sections omitted" line and the final newline.
_NOTE_RESERVE = 300

JSONKey = tuple[Any, ...]


def _markdown_text(value: object) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", pv.one_line(str(value)))


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in _BACKTICK_RUN.findall(text)), default=0)


def _code_span(value: object) -> str:
    text = pv.one_line(str(value))
    if not text:
        return ""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{ticks}{text}{ticks}"


def _html_text(value: object) -> str:
    return html.escape(pv.one_line(str(value)))


def _fence(lines: Sequence[str]) -> str:
    return "`" * max(3, max((_longest_backtick_run(line) for line in lines), default=0) + 1)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.views", "templates"),
        undefined=jinja2.StrictUndefined,
        # Markdown, not HTML: escaping is explicit, per context, via the filters below.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(md=_markdown_text, code=_code_span, html=_html_text)
    return env


@dataclass(frozen=True)
class Section:
    """One collapsible part of a Markdown document, and its one-line stand-in."""

    full: str
    collapsed: str


def render_markdown(plan: Mapping[str, Any], *, show_provenance: bool, max_chars: int) -> str:
    env = _environment()
    sections = _sections(env, plan, show_provenance, max_chars)
    header_context = _header_context(plan)
    header = ""
    for cap in _HEADER_CAPS:
        header = env.get_template("plan.md.j2").render(header_context, cap=cap, note="")
        if len(header) <= max_chars // 2:
            break
    chosen, truncated, omitted = fit_sections(sections, max_chars - len(header) - _NOTE_RESERVE)
    note = _truncation_note(truncated, omitted)
    if note:
        header = env.get_template("plan.md.j2").render(header_context, cap=cap, note=note)
    parts = [header, *chosen]
    if omitted:
        parts.append(f"… {pv.plural(omitted, 'more section')} omitted.")
    return "\n\n".join(p.strip("\n") for p in parts)


def fit_sections(sections: Sequence[Section], budget: int) -> tuple[list[str], int, int]:
    """Collapse the largest sections first, then drop from the end, until under budget."""
    chosen = [s.full for s in sections]
    total = sum(len(text) + 2 for text in chosen)
    truncated = 0
    largest_first = sorted(range(len(sections)), key=lambda i: (-len(sections[i].full), i))
    for i in largest_first:
        if total <= budget:
            break
        saving = len(sections[i].full) - len(sections[i].collapsed)
        if saving > 0:
            chosen[i] = sections[i].collapsed
            total -= saving
            truncated += 1
    omitted = 0
    while chosen and total > budget:
        total -= len(chosen.pop()) + 2
        omitted += 1
    return chosen, truncated, omitted


def _truncation_note(truncated: int, omitted: int) -> str:
    if not truncated and not omitted:
        return ""
    parts = []
    if truncated:
        verb = "was" if truncated == 1 else "were"
        parts.append(f"{pv.plural(truncated, 'section')} {verb} truncated")
    if omitted:
        verb = "was" if omitted == 1 else "were"
        parts.append(f"{pv.plural(omitted, 'section')} {verb} omitted")
    return " and ".join(parts) + "; run `reconciler show PLAN` for the full plan."


def _named(names: Sequence[str]) -> str:
    """The clusters a header line is about: every name when few, else a count and the first."""
    if len(names) <= grouping.FEW:
        return ", ".join(names)
    return f"{pv.clusters_text(len(names))}: {grouping.names_text(names)}"


def _grouped(rows: list[tuple[str, JSONKey, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows equal but for their cluster, once each with every cluster named."""
    by_key: dict[JSONKey, tuple[dict[str, Any], list[str]]] = {}
    for cluster, key, row in rows:
        by_key.setdefault(key, (row, []))[1].append(cluster)
    return [{**row, "cluster": _named(names)} for row, names in by_key.values()]


def _header_context(plan: Mapping[str, Any]) -> dict[str, Any]:
    summary = plan["summary"]
    deletions = _grouped([
        (
            cluster["name"],
            (ch["addon"], ch["before_version"], ch["reason"]),
            {"addon": ch["addon"], "version": ch["before_version"], "reason": ch["reason"]},
        )
        for cluster in plan["clusters"]
        for ch in cluster["changes"]
        if ch["action"] == "delete"
    ])
    risks = _grouped([
        (
            cluster["name"],
            (f["addon"], f["risk"], f["level"], f["status"], pv.finding_outcome(f), f["message"]),
            {
                **f,
                "outcome": pv.finding_outcome(f),
                "outcome_mark": _OUTCOME_MARK[pv.finding_outcome(f)],
            },
        )
        for cluster in plan["clusters"]
        for f in pv.findings(cluster)
    ])
    errors = [{"cluster": "", "text": pv.diagnostic_text(d)} for d in plan["errors"]]
    # Never grouped: each cluster's errors are its own to fix.
    errors += [
        {"cluster": cluster["name"], "text": pv.diagnostic_text(d)}
        for cluster in plan["clusters"]
        for d in cluster["errors"]
    ]
    all_diagnostics = [*plan["errors"], *(d for c in plan["clusters"] for d in c["errors"])]
    rollout = None
    if plan.get("rollout"):
        rows = grouping.rollout_rows(plan)
        rollout = {"waves": pv.plural(len(rows), "wave"), "rows": rows,
                   "pause": plan["rollout"]["pause"]}
    policy = plan.get("policy")
    return {
        "policy": None if not policy else {
            "heading": pv.policy_heading(policy),
            "mark": "⛔" if policy["denied"] else "✅",
            "rows": [{"outcome": o, "mark": _POLICY_MARK[o], "rule": r, "message": m}
                     for o, r, m in pv.policy_rows(policy)],
        },
        "problems_heading": pv.problems_heading(all_diagnostics),
        "headline": pv.headline(summary),
        "targets_warning": pv.targets_warning(plan),
        "rollout": rollout,
        "deletions": deletions,
        "risks": risks,
        "errors": errors,
    }


def _sections(
    env: jinja2.Environment, plan: Mapping[str, Any], show_provenance: bool, max_chars: int
) -> list[Section]:
    # Grouping comes before fitting: a change shared by a fleet is one
    # section, so it is the clusters' list that gets cut, never its diff.
    sections = []
    for block in grouping.blocks(plan, show_provenance=show_provenance):
        if plan.get("rollout"):
            count = pv.clusters_text(len(block.clusters))
            title = f"Wave {_code_span(block.wave['name'])}" if block.wave else "In no wave"
            heading = f"#### {title} — {count}"
            sections.append(Section(full=heading, collapsed=heading))
        sections.extend(_block_sections(env, block, show_provenance, max_chars))
    return sections


def _block_sections(
    env: jinja2.Environment, block: grouping.Block, show_provenance: bool, max_chars: int
) -> list[Section]:
    sections = []
    group_template = env.get_template("group.md.j2")
    for group in block.shared:
        context = {
            "count": pv.clusters_text(len(group.clusters)),
            "names": grouping.names_text(group.clusters, _code_span),
            "versions": group.version_lines(_code_span),
            "changes": [_change_context(ch, show_provenance) for ch in group.changes],
        }
        collapsed = _collapsed_line(group.changes, max_chars)
        sections.append(Section(full=group_template.render(context, collapsed=""),
                                collapsed=group_template.render(context, collapsed=collapsed)))
    template = env.get_template("cluster.md.j2")
    for cluster in block.clusters:
        if not block.has_section(cluster):
            continue
        context = _cluster_context(cluster, block, show_provenance)
        collapsed = _collapsed_line(pv.changed(cluster), max_chars)
        sections.append(
            Section(
                full=template.render(context, collapsed=""),
                collapsed=template.render(context, collapsed=collapsed),
            )
        )
    light = [c for c in block.clusters if not block.has_section(c)]
    unchanged = [c for c in light if not block.shared_addons[c["name"]]]
    shared_only = [c for c in light if block.shared_addons[c["name"]]]
    for entries, what in ((shared_only, "with only the shared changes above"),
                          (unchanged, "without changes")):
        if entries:
            sections.append(_list_section(env, entries, what, max_chars))
    return sections


def _list_section(env: jinja2.Environment, clusters: Sequence[Mapping[str, Any]], what: str,
                  max_chars: int) -> Section:
    entries = [
        {"name": c["name"], "unmanaged": c["unmanaged"],
         "managed_undeclared": c.get("managed_undeclared", [])}
        for c in clusters
    ]
    template = env.get_template("unchanged.md.j2")
    context = {"entries": entries, "kept_text": pv.MANAGED_UNDECLARED,
               "title": f"{pv.clusters_text(len(entries))} {what}"}
    return Section(
        full=template.render(context, collapsed=""),
        collapsed=template.render(
            context, collapsed=f"cluster names omitted to stay under {max_chars:,} characters."
        ),
    )


def _collapsed_line(changes: Sequence[Mapping[str, Any]], max_chars: int) -> str:
    counts = {a: sum(1 for ch in changes if ch["action"] == a) for a in pv.SUMMARY_ACTIONS}
    kinds = ", ".join(f"{n} to {a}" for a, n in counts.items() if n)
    return (
        f"Details of {pv.plural(len(changes), 'change')} ({kinds}) omitted "
        f"to stay under {max_chars:,} characters."
    )


def _cluster_context(
    cluster: Mapping[str, Any], block: grouping.Block, show_provenance: bool
) -> dict[str, Any]:
    changes = pv.changed(cluster)
    title = pv.plural(len(changes), "change") if changes else "no changes"
    if cluster["errors"]:
        title += ", " + pv.plural(len(cluster["errors"]), "error")
    facts = [f"cluster {cluster['cluster_id']}"]
    if cluster["kubernetes_version"]:
        facts.append(f"Kubernetes {cluster['kubernetes_version']}")
    if cluster["region"]:
        facts.append(cluster["region"])
    readiness = cluster["readiness"]
    if readiness is not None:
        readiness_facts = [f"phase {readiness['phase']}"] if readiness["phase"] else []
        if readiness["task_id"]:
            readiness_facts.append(f"task {readiness['task_id']}")
        readiness = {**readiness, "facts": ", ".join(readiness_facts)}
    return {
        "cluster": cluster,
        "title": title,
        "facts": ", ".join(facts),
        "changes": [_change_context(ch, show_provenance) for ch in block.own[cluster["name"]]],
        "shared": block.shared_addons[cluster["name"]],
        "unchanged": (
            pv.plural(len(cluster["changes"]) - len(changes), "add-on")
            if len(cluster["changes"]) > len(changes)
            else ""
        ),
        "unmanaged": cluster["unmanaged"],
        "managed_undeclared": cluster.get("managed_undeclared", []),
        "managed_undeclared_text": pv.MANAGED_UNDECLARED,
        "errors": [pv.diagnostic_text(d) for d in cluster["errors"]],
        "problems_heading": pv.problems_heading(cluster["errors"]),
        "readiness": readiness,
    }


def _diff_block_lines(change: Mapping[str, Any]) -> list[str]:
    lines = []
    for fc in change["field_changes"]:
        path = pv.one_line(fc["path"])
        kind = fc["kind"]
        if fc["sensitive"]:
            before = after = pv.SENSITIVE_TEXT
            if kind == "changed":
                after = "(sensitive, changed)"
        else:
            before, after = pv.format_value(fc["before"]), pv.format_value(fc["after"])
        if kind in ("removed", "changed"):
            lines.append(f"- {path}: {before}")
        if kind in ("added", "changed"):
            lines.append(f"+ {path}: {after}")
    return lines


def _change_context(change: Mapping[str, Any], show_provenance: bool) -> dict[str, Any]:
    diff = _diff_block_lines(change)
    provenance = []
    if show_provenance and change["action"] != "delete":
        provenance = [
            f"{path} = {value}  ({source})" for path, value, source in pv.provenance_rows(change)
        ]
    reason = change["reason"]
    if change["action"] == "adopt" and not change["field_changes"]:
        reason = f"{reason} (values already match)" if reason else "values already match"
    return {
        "symbol": pv.SYMBOLS[change["action"]].strip(),
        "addon": change["addon"],
        "action": pv.action_text(change),
        "version": pv.version_text(change),
        "constraint": change.get("version_constraint", "") if pv.constraint_text(change) else "",
        "reason": reason,
        "diff": diff,
        "fence": _fence(diff),
        "findings": [
            {
                **f,
                "outcome": pv.finding_outcome(f),
                "outcome_mark": _OUTCOME_MARK[pv.finding_outcome(f)],
            }
            for f in change["findings"]
        ],
        "provenance": provenance,
        "provenance_fence": _fence(provenance),
    }
