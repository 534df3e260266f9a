"""Desired state from command-line values, without click.

The commands hand over the raw strings of ``--var``/``--var-file``/``--cluster``/
``--endpoint``; this module turns them into a ``DesiredState`` or one
``InputError`` holding every problem, so that the parsing is testable and
reusable without a command line.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.config.loader import load_desired
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import Diagnostic, InputError

__all__ = ["check_addon_targets", "load_from_options", "parse_var_assignments"]


def parse_var_assignments(assignments: Sequence[str]) -> tuple[dict[str, str], list[Diagnostic]]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``, and a diagnostic per malformed one."""
    variables: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip().isidentifier():
            problems.append(
                Diagnostic(
                    "--var",
                    0,
                    0,
                    "",
                    f"invalid --var {name!r}",
                    "write --var NAME=VALUE, NAME a letter or _ then letters, digits, _",
                )
            )
            continue
        variables[name.strip()] = value
    return variables, problems


def load_from_options(
    files: Sequence[str],
    *,
    var_assignments: Sequence[str],
    var_files: Sequence[str],
    clusters: Sequence[str],
    endpoint: str | None,
    need_secrets: bool = True,
    addons: Sequence[str] = (),
) -> DesiredState:
    """``load_desired`` from command-line options; raises InputError with every problem.

    ``addons`` (``--addon``) must each name an add-on declared on a selected
    cluster (``check_addon_targets``); the planner keeps only their changes."""
    variables, problems = parse_var_assignments(var_assignments)
    try:
        desired = load_desired(
            files,
            variables=variables,
            var_files=var_files,
            clusters=clusters,
            endpoint=endpoint,
            need_secrets=need_secrets,
        )
    except InputError as err:
        raise InputError([*problems, *err.diagnostics]) from None
    problems += check_addon_targets(desired, addons)
    if problems:
        raise InputError(problems)
    return desired


def check_addon_targets(desired: DesiredState, addons: Sequence[str]) -> list[Diagnostic]:
    """A diagnostic per ``--addon`` name declared on none of the selected clusters.

    A typo must not plan nothing and exit 0 (\"no changes\"): it is an error
    naming what would be valid."""
    known = sorted({a.name for spec in desired.clusters for a in spec.addons})
    return [
        Diagnostic(
            "--addon", 0, 0, "",
            f"--addon {name!r} is not declared on any selected cluster",
            "known add-ons: " + (", ".join(known) if known else "(none)"),
        )
        for name in dict.fromkeys(addons)
        if name not in known
    ]
