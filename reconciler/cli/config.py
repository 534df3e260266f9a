"""The ``validate`` and ``schema`` commands, and the desired-state options other commands share.

``plan``/``apply``/``drift`` take the same inputs: decorate them with
``desired_state_options`` and call ``load_from_options``; on ``InputError``
call ``report_diagnostics`` and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from reconciler.config.loader import load_desired
from reconciler.config.schemacheck import schema_text
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import Diagnostic, InputError

F = TypeVar("F", bound=Callable[..., Any])


def desired_state_options(command: F) -> F:
    """``--var``, ``--var-file``, ``--cluster`` and ``--endpoint``, all but the last repeatable."""
    options = [
        click.option(
            "--endpoint",
            metavar="URL",
            help="Override every cluster's endpoint (https://… or emulator://NAME).",
        ),
        click.option(
            "--cluster",
            "clusters",
            metavar="NAME",
            multiple=True,
            help="Only this cluster (repeatable).",
        ),
        click.option(
            "--var-file",
            "var_files",
            metavar="FILE",
            multiple=True,
            help="YAML mapping of template variables (repeatable; later files win).",
        ),
        click.option(
            "--var",
            "var_assignments",
            metavar="NAME=VALUE",
            multiple=True,
            help="Template variable, wins over --var-file and the file's vars: block.",
        ),
    ]
    for option in options:
        command = option(command)
    return command


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
) -> DesiredState:
    """``load_desired`` from command-line options; raises InputError with every problem."""
    variables, problems = parse_var_assignments(var_assignments)
    try:
        desired = load_desired(
            files, variables=variables, var_files=var_files, clusters=clusters, endpoint=endpoint
        )
    except InputError as err:
        raise InputError([*problems, *err.diagnostics]) from None
    if problems:
        raise InputError(problems)
    return desired


def report_diagnostics(diagnostics: Sequence[Diagnostic]) -> None:
    """Every diagnostic on stderr, then a count."""
    for diagnostic in diagnostics:
        click.echo(str(diagnostic), err=True)
    errors = [d for d in diagnostics if d.severity == "error"]
    files = {d.file for d in errors if d.file and not d.file.startswith("--")}
    if errors:
        where = f" in {_plural(len(files), 'file')}" if files else ""
        click.echo(
            f"{_plural(len(errors), 'error')}{where}; nothing was sent to the cloud.", err=True
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@desired_state_options
def validate(
    files: tuple[str, ...],
    var_assignments: tuple[str, ...],
    var_files: tuple[str, ...],
    clusters: tuple[str, ...],
    endpoint: str | None,
) -> None:
    """Check desired-state files without touching the network.

    Renders each file (Jinja2), parses it, validates it against the schema and
    checks references; prints every problem with file:line:column, or a summary.
    Exit 0 when valid, 1 otherwise.

    \b
    Example:
      reconciler validate examples/ --var-file envs/prod.yaml --cluster prod-eu
    """
    try:
        desired = load_from_options(
            files,
            var_assignments=var_assignments,
            var_files=var_files,
            clusters=clusters,
            endpoint=endpoint,
        )
    except InputError as err:
        report_diagnostics(err.diagnostics)
        raise SystemExit(1) from None
    addons = sum(len(cluster.addons) for cluster in desired.clusters)
    clusters_text = _plural(len(desired.clusters), "cluster")
    click.echo(
        f"{_plural(len(desired.files), 'file')} valid: {clusters_text}, {_plural(addons, 'add-on')}"
    )


@click.command()
def schema() -> None:
    """Print the JSON Schema of desired-state files (for editors and other tools).

    \b
    Example:
      reconciler schema > desired-state.schema.json
    """
    click.echo(schema_text(), nl=False)
