"""The text of input and plan problems, as the commands print them on stderr.

Every diagnostic on its own line (``file:line:column: key: message``), then one
count line, so that scripts and CI logs find both where they look for errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.plan import Plan

__all__ = ["diagnostics_text", "plan_errors_text", "plural"]


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
    lines = [*(str(d) for d in diagnostics),
             f"{errors} error(s) in the plan; nothing was changed."]
    return "".join(line + "\n" for line in lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
