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

__all__ = ["load_from_options", "parse_var_assignments"]


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
) -> DesiredState:
    """``load_desired`` from command-line options; raises InputError with every problem."""
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
    if problems:
        raise InputError(problems)
    return desired
