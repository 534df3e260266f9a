"""The terminal view of a plan, read from its canonical JSON form.

Lines are built as styled segments so that colour is an output choice only:
the same lines print through rich with ANSI styles on a terminal, and are
simply joined otherwise. Segments become ``rich.text.Text``, never markup, so
values can't inject styles.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from reconciler.views import grouping
from reconciler.views import planview as pv
from reconciler.views.unreachable import short_unreachable

__all__ = ["Line", "Segment", "render_text"]

_ACTION_STYLE = {
    "install": "green",
    "upgrade": "cyan",
    "update": "yellow",
    "repair": "magenta",
    "downgrade": "red",
    "delete": "red",
    "adopt": "blue",
    "no-op": "",
    "refresh": "magenta",
}
_DIFF_STYLE = {"added": "green", "removed": "red", "changed": "yellow"}
_DIFF_SYMBOL = {"added": "+", "removed": "-", "changed": "~"}
_OUTCOME_STYLE = {"blocking": "bold red", "accepted": "yellow", "passed": "green"}


Segment = tuple[str, str]
"""(content, rich style); "" for no style."""
Line = list[Segment]


def render_text(plan: Mapping[str, Any], *, color: bool, show_provenance: bool) -> str:
    lines = _plan_lines(plan, show_provenance)
    if not color:
        return "\n".join("".join(content for content, _ in line) for line in lines)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        width=100_000,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    for line in lines:
        text = Text()
        for content, style in line:
            text.append(content, style=style or None)
        console.print(text, soft_wrap=True)
    return buffer.getvalue().rstrip("\n")


def _line(indent: int, *parts: Segment) -> Line:
    return [(" " * indent, ""), *parts]


def _plan_lines(plan: Mapping[str, Any], show_provenance: bool) -> list[Line]:
    lines: list[Line] = []
    if plan.get("policy"):
        lines.extend([*_policy_lines(plan["policy"]), []])
    if warning := pv.targets_warning(plan):
        lines.extend([_line(0, ("Warning: " + warning, "bold yellow")), []])
    if plan["errors"]:
        lines.append(_line(0, (pv.problems_heading(plan["errors"]) + ":", _problems_style(plan))))
        lines.extend(_diagnostic_line(2, d) for d in plan["errors"])
        lines.append([])
    if plan.get("rollout"):
        lines.extend(_rollout_lines(plan))
        lines.append([])
    for block in grouping.blocks(plan, show_provenance=show_provenance):
        lines.extend(_block_lines(block, bool(plan.get("rollout")), show_provenance))
    summary = plan["summary"]
    summary_line, errors_line = pv.headline(summary)
    if summary_line:
        lines.append(_line(0, (summary_line, "bold")))
    if errors_line:
        lines.append(_line(0, (errors_line, "bold red")))
    return lines


_POLICY_STYLE = {"deny": "bold red", "accepted": "yellow", "warn": "yellow"}


def _policy_lines(policy: Mapping[str, Any]) -> list[Line]:
    heading_style = "bold red" if policy["denied"] else "bold"
    lines = [_line(0, (pv.policy_heading(policy), heading_style))]
    for outcome, rule, message in pv.policy_rows(policy):
        lines.append(_line(2, (f"{outcome.upper():8} ", _POLICY_STYLE[outcome]),
                           (f"{rule}: {message}", "")))
    return lines


def _problems_style(scope: Mapping[str, Any]) -> str:
    only_warnings = all(d["severity"] == "warning" for d in scope["errors"])
    return "bold yellow" if only_warnings else "bold red"


def _diagnostic_line(indent: int, d: Mapping[str, Any]) -> Line:
    style = "yellow" if d["severity"] == "warning" else "red"
    # An unreachable endpoint's error is said in full once, on stderr.
    return _line(indent, (short_unreachable(d["message"]) or pv.diagnostic_text(d), style))


def _rollout_lines(plan: Mapping[str, Any]) -> list[Line]:
    rollout = plan["rollout"]
    pause = rollout["pause"]
    if pause == "manual":
        pause += " (apply stops after each wave that passes its gate)"
    rows = grouping.rollout_rows(plan)
    lines = [_line(0, (f"Rollout in {pv.plural(len(rows), 'wave')}, pause: {pause}", "bold"))]
    for n, (name, count, soak, parallel, failures) in enumerate(rows, 1):
        text = (f"{n}. {pv.one_line(name)}: {pv.clusters_text(count)}; soak {soak};"
                f" max_parallel {parallel}; max_failures {failures}")
        lines.append(_line(2, (text, "")))
    return lines


def _block_lines(block: grouping.Block, has_rollout: bool, show_provenance: bool) -> list[Line]:
    lines: list[Line] = []
    if has_rollout:
        count = pv.clusters_text(len(block.clusters))
        title = f"Wave {pv.one_line(block.wave['name'])}" if block.wave else "In no wave"
        lines.extend([_line(0, (f"{title}: {count}", "bold underline")), []])
    for group in block.shared:
        on = f"On {pv.clusters_text(len(group.clusters))}: {grouping.names_text(group.clusters)}"
        lines.append(_line(0, (pv.one_line(on), "bold")))
        for running in group.version_lines():
            lines.append(_line(2, (pv.one_line(f"running {running}"), "dim")))
        for change in group.changes:
            lines.extend(_change_lines(change, show_provenance))
        lines.append([])
    light = [c for c in block.clusters if not block.has_section(c)]
    summarised = len(light) > grouping.FEW
    for cluster in block.clusters:
        if block.has_section(cluster) or not summarised:
            lines.extend(_cluster_lines(cluster, block, show_provenance))
            lines.append([])
    if summarised:
        lines.extend(_light_summary_lines(block, light))
        lines.append([])
    return lines


def _light_summary_lines(block: grouping.Block, light: list[pv.JSONDict]) -> list[Line]:
    """Clusters with nothing of their own to show, when too many for a line each."""
    lines = []
    unchanged = [c["name"] for c in light if not block.shared_addons[c["name"]]]
    if unchanged:
        text = f"{pv.clusters_text(len(unchanged))} without changes: "
        lines.append(_line(0, (pv.one_line(text + grouping.names_text(unchanged)), "")))
    for label, field in ((pv.MANAGED_UNDECLARED, "managed_undeclared"),
                         ("unmanaged (left alone)", "unmanaged")):
        by_names: dict[tuple[str, ...], list[str]] = {}
        for cluster in light:
            if names := tuple(cluster.get(field, ())):
                by_names.setdefault(names, []).append(cluster["name"])
        for names, clusters in by_names.items():
            text = (f"{label}: {', '.join(names)} — on {pv.clusters_text(len(clusters))}:"
                    f" {grouping.names_text(clusters)}")
            lines.append(_line(0, (pv.one_line(text), "dim")))
    return lines


def _cluster_lines(
    cluster: Mapping[str, Any], block: grouping.Block, show_provenance: bool
) -> list[Line]:
    details = [cluster["cluster_id"]]
    if cluster["kubernetes_version"]:
        details.append(f"Kubernetes {cluster['kubernetes_version']}")
    if cluster["region"]:
        details.append(cluster["region"])
    own = block.own[cluster["name"]]
    shared = block.shared_addons[cluster["name"]]
    unchanged = sum(1 for ch in cluster["changes"] if ch["action"] == "no-op")
    heading = _line(0, (pv.one_line(cluster["name"]), "bold"), (f" ({', '.join(details)})", "dim"))
    if not block.has_section(cluster):
        if shared:
            text = f": only the shared changes above ({', '.join(shared)})"
            if unchanged:
                text += f"; {pv.plural(unchanged, 'add-on')} up to date"
        else:
            text = f": no changes ({pv.plural(unchanged, 'add-on')} up to date)"
        heading.append((pv.one_line(text), ""))
        lines = [heading]
        lines.extend(_undeclared_lines(cluster))
        return lines

    lines = [heading]
    for change in own:
        lines.extend(_change_lines(change, show_provenance))
    if shared:
        names = pv.one_line(", ".join(shared))
        lines.append(_line(2, (f"also the shared changes above: {names}", "dim")))
    if unchanged:
        lines.append(_line(2, (f"{pv.plural(unchanged, 'add-on')} unchanged", "dim")))
    lines.extend(_undeclared_lines(cluster))
    if cluster["errors"]:
        problems = pv.problems_heading(cluster["errors"]).lower() + ":"
        lines.append(_line(2, (problems, _problems_style(cluster))))
        lines.extend(_diagnostic_line(4, d) for d in cluster["errors"])
    if cluster["readiness"]:
        lines.extend(_readiness_lines(cluster["readiness"]))
    return lines


def _undeclared_lines(cluster: Mapping[str, Any]) -> list[Line]:
    lines = []
    kept = cluster.get("managed_undeclared", [])
    if kept:
        names = ", ".join(pv.one_line(n) for n in kept)
        lines.append(_line(2, (f"{pv.MANAGED_UNDECLARED}: {names}", "dim")))
    if cluster["unmanaged"]:
        names = ", ".join(pv.one_line(n) for n in cluster["unmanaged"])
        lines.append(_line(2, (f"unmanaged (left alone): {names}", "dim")))
    return lines


def _change_lines(change: Mapping[str, Any], show_provenance: bool) -> list[Line]:
    action = change["action"]
    style = _ACTION_STYLE[action]
    addon = pv.one_line(change["addon"])
    head = f"{pv.SYMBOLS[action]} {addon}: {pv.action_text(change)}"
    if version := pv.version_text(change):
        head += f" {version}"
    if constraint := pv.constraint_text(change):
        head += f" ({pv.one_line(constraint)})"
    lines = [_line(2, (head.rstrip(), style))]
    if action == "adopt" and not change["field_changes"]:
        lines[0].append((" (values already match)", "dim"))
    if change["reason"]:
        lines.append(_line(6, (f"reason: {pv.one_line(change['reason'])}", "dim")))
    for kind, text in pv.diff_lines(change):
        lines.append(_line(6, (f"{_DIFF_SYMBOL[kind]} {text}", _DIFF_STYLE[kind])))
    for finding in change["findings"]:
        outcome = pv.finding_outcome(finding)
        text = f"precheck {finding['risk']} ({finding['level']}, {finding['status']}): {outcome}"
        if finding["message"]:
            text += f" — {finding['message']}"
        lines.append(_line(6, (pv.one_line(text), _OUTCOME_STYLE[outcome])))
    rows = pv.provenance_rows(change) if show_provenance and action != "delete" else []
    if rows:
        lines.append(_line(6, ("provenance:", "dim")))
        for path, value, source in rows:
            lines.append(_line(8, (f"{path} = {value}", ""), (f"  ({source})", "dim")))
    return lines


def _readiness_lines(readiness: Mapping[str, Any]) -> list[Line]:
    facts = [f"phase {readiness['phase']}"] if readiness["phase"] else []
    if readiness["task_id"]:
        facts.append(f"task {readiness['task_id']}")
    suffix = f" ({', '.join(facts)})" if facts else ""
    lines = [_line(2, (f"upgrade readiness for {readiness['target_version']}{suffix}:", "bold"))]
    for item in readiness["items"]:
        text = f"[{item['level']}] {item['name']} ({item['phase']})"
        if item["message"]:
            text += f": {item['message']}"
        if item["addons"]:
            text += f"; add-ons: {', '.join(item['addons'])}"
        style = "red" if item["level"] in ("Fatal", "Error") else "yellow"
        lines.append(_line(4, (pv.one_line(text), style)))
    if readiness["unsupported_addons"]:
        names = ", ".join(readiness["unsupported_addons"])
        lines.append(_line(4, (f"not supporting {readiness['target_version']}: {names}", "red")))
    if not readiness["items"] and not readiness["unsupported_addons"]:
        lines.append(_line(4, ("no risks reported", "green")))
    return lines
