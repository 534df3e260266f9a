"""The text of input and plan problems, as the commands print them on stderr.

Every diagnostic on its own line (``file:line:column: key: message``), then one
count line, so that scripts and CI logs find both where they look for errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.plan import FindingLevel, Plan
from reconciler.views.unreachable import grouped_error_lines

__all__ = [
    "diagnostics_text",
    "drift_errors_text",
    "plan_errors_text",
    "plural",
    "precheck_blocked_text",
]


def diagnostics_text(diagnostics: Sequence[Diagnostic]) -> str:
    """Every diagnostic, then a count of the errors (if any); newline-terminated."""
    lines = [str(diagnostic) for diagnostic in diagnostics]
    errors = [d for d in diagnostics if d.severity == "error"]
    # "--var" and friends are not files: they are counted as errors, not as files.
    files = {d.file for d in errors if d.file and not d.file.startswith("--")}
    if errors:
        where = f" in {plural(len(files), 'file')}" if files else ""
        lines.append(f"{plural(len(errors), 'error')}{where}; nothing was sent to the cloud.")
    return "".join(line + "\n" for line in lines)


def plan_errors_text(plan: Plan) -> str:
    """The plan's diagnostics (plan-wide, then per cluster) and a count; newline-terminated."""
    diagnostics = [*plan.errors, *(d for cp in plan.clusters for d in cp.errors)]
    errors = sum(1 for d in diagnostics if d.severity == "error")
    # An unreachable endpoint is one line, however many clusters it serves.
    pairs = [*(("", d) for d in plan.errors),
             *((cp.name, d) for cp in plan.clusters for d in cp.errors)]
    lines = [*grouped_error_lines(pairs),
             f"{errors} error(s) in the plan; nothing was changed."]
    return "".join(line + "\n" for line in lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def precheck_blocked_text(plan: Plan) -> str:
    """Why ``plan --precheck`` fails when the server precheck blocks a change, and
    what to do about each blocking risk; newline-terminated (empty if none).

    A Warning names the exact ``--accept-risk`` to pass; a Fatal risk can't be
    accepted, so it says to fix the cause.
    """
    lines: list[str] = []
    for cp in plan.clusters:
        for change in cp.changes:
            for finding in change.findings:
                if not finding.blocking:
                    continue
                where = f"{cp.name}/{change.addon}"
                what = f"  - {where}: {finding.risk} ({finding.level.value})"
                if finding.message:
                    what += f": {finding.message}"
                if finding.level is FindingLevel.FATAL:
                    what += ("; a Fatal risk can't be accepted: fix its cause on the cluster"
                             " (or change what the files ask), then plan again")
                else:
                    what += (f"; to accept it: --accept-risk {where}:{finding.risk}"
                             f" (or `precheck: {{accept: [{finding.risk}]}}` on the add-on)")
                lines.append(what)
    if not lines:
        return ""
    blocked = plan.count_blocked()
    head = (f"error: the server precheck blocks {plural(blocked, 'change')}; apply would"
            " refuse " + ("it" if blocked == 1 else "them") + ":")
    return "".join(line + "\n" for line in [head, *lines])


def drift_errors_text(errors: Sequence[tuple[str, Diagnostic]]) -> str:
    """The ``(cluster, diagnostic)`` errors of a drift run, for stderr (a report
    written to ``--output`` must not be the only place they show); newline-terminated."""
    if not errors:
        return ""
    clusters = len({cluster for cluster, _ in errors})
    lines = [*grouped_error_lines(errors),
             f"{plural(clusters, 'cluster')} could not be checked."]
    return "".join(line + "\n" for line in lines)
