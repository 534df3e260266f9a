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
from reconciler.model.trust import NO_VARIABLES, ONLY_OFFICIAL, EndpointRule, EnvRule

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
    allowed_endpoints: EndpointRule = ONLY_OFFICIAL,
    allowed_env: EnvRule = NO_VARIABLES,
) -> DesiredState:
    """``load_desired`` from command-line options; raises InputError with every problem.

    ``addons`` (``--addon``) must each name an add-on declared on a selected
    cluster (``check_addon_targets``); the planner keeps only their changes.
    ``allowed_endpoints``/``allowed_env``: the operator's (``model/trust.py``);
    an entry that is no URL is an error here."""
    variables, problems = parse_var_assignments(var_assignments)
    problems += [
        Diagnostic("--allow-endpoint", 0, 0, "", f"invalid --allow-endpoint {entry!r}",
                   "a URL such as https://cce.example.com:8443, s3://BUCKET or"
                   " postgres://HOST:PORT (also in RECONCILER_ALLOWED_ENDPOINTS)")
        for entry in allowed_endpoints.invalid()
    ]
    try:
        desired = load_desired(
            files,
            variables=variables,
            var_files=var_files,
            clusters=clusters,
            endpoint=endpoint,
            need_secrets=need_secrets,
            allowed_endpoints=allowed_endpoints,
            allowed_env=allowed_env,
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
