"""Options and helpers shared by the commands that read desired-state files."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reconciler.cli.config import load_from_options, report_diagnostics
from reconciler.cli.inprocess import EmulatorServices, packaged_scenarios
from reconciler.cloud import CloudSession, Credentials, PreflightError, preflight
from reconciler.masking import register
from reconciler.masking.logs import start_verbose_logging
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import InputError
from reconciler.planfile import looks_like_plan_file
from reconciler.run.prechecks import parse_accept_risks
from reconciler.statemgr import DEFAULT_STATE_DIR

F = TypeVar("F", bound=Callable[..., Any])


def desired_options(func: F) -> F:
    """FILE… plus --var, --var-file, --cluster, --endpoint, --state-dir,
    --parallelism, --format, --no-color, -v (the flags of plan/apply/drift)."""
    decorators = [
        # No exists=True here or on --var-file: click would exit 2, which plan
        # and drift use for "changes"; the loader reports a missing file as a
        # diagnostic (exit 1) like every other input problem.
        click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
                     help="Set a template variable (repeatable)."),
        click.option("--var-file", "var_files", multiple=True,
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="YAML file of variables (repeatable)."),
        click.option("--cluster", "clusters", multiple=True, metavar="NAME",
                     help="Only these clusters (repeatable)."),
        click.option("--endpoint", default=None, metavar="URL",
                     help="Override every cluster's endpoint (e.g. emulator://demo)."),
        click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                     default=DEFAULT_STATE_DIR, show_default=True,
                     help="Directory of the per-cluster state files."),
        click.option("--parallelism", type=click.IntRange(1, 1000), default=10,
                     show_default=True, help="Clusters processed at once."),
        click.option("--no-color", is_flag=True, help="Never colour the output."),
        click.option("-v", "--verbose", count=True, callback=_verbose_logging,
                     help="More diagnostics on stderr (-vv: debug)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _verbose_logging(ctx: click.Context, param: click.Parameter, verbose: int) -> int:
    ctx.call_on_close(start_verbose_logging(verbose))
    return verbose


def load_or_exit(
    files: Sequence[Path],
    variables: Sequence[str],
    var_files: Sequence[Path],
    clusters: Sequence[str],
    endpoint: str | None,
) -> DesiredState:
    """Load the desired state, or print every diagnostic and exit 1."""
    for path in files:
        if looks_like_plan_file(path):
            # Never read a (perhaps corrupt) saved plan as YAML desired state.
            fail(f"{path} is a saved plan, not a desired-state file: apply it alone with"
                 f" `reconciler apply {path}` or read it with `reconciler show {path}`")
    try:
        desired = load_from_options(
            [str(f) for f in files],
            var_assignments=variables,
            var_files=[str(f) for f in var_files],
            clusters=clusters,
            endpoint=endpoint,
        )
    except InputError as err:
        report_diagnostics(err.diagnostics)
        raise SystemExit(1) from None
    register_secrets(desired)
    return desired


def register_secrets(desired: DesiredState) -> None:
    """Mask every ``secret()`` value this run read, on every output channel.

    The leaves that hold them are hashed structurally; this also catches the
    same text anywhere else (a plain copy in another key, an error message).
    ``AddonSpec.sensitive`` names the variables; the loader read them from
    ``os.environ``, so reading them again yields the same values.
    """
    register(
        os.environ.get(name)
        for cluster in desired.clusters
        for addon in cluster.addons
        for names in addon.sensitive.values()
        for name in names
    )


def use_color(no_color: bool) -> bool:
    return not no_color and sys.stdout.isatty()


def fail(message: str) -> NoReturn:
    """The one-line error of a command: stderr, exit 1."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def preflight_or_exit(endpoints: Iterable[tuple[str, str]]) -> None:
    """Every ``(endpoint, region)`` usable and credentials present, or exit 1
    before anything is sent."""
    try:
        preflight(endpoints, emulators=packaged_scenarios())
    except PreflightError as err:
        fail(str(err))


def desired_endpoints(desired: DesiredState) -> list[tuple[str, str]]:
    return [(spec.endpoint, spec.region) for spec in desired.clusters]


def accept_risks_or_exit(
    values: Sequence[str], known: Mapping[str, Collection[str]]
) -> dict[str, dict[str, set[str]]]:
    """``--accept-risk`` parsed and checked against the names of the plan (or
    the desired state): the same message and exit 1 in plan and apply."""
    try:
        return parse_accept_risks(values, known)
    except ValueError as err:
        fail(str(err))


def check_writable_or_exit(path: Path, option: str) -> None:
    """Exit 1 naming ``path`` and the OS reason unless a file can be created
    beside it — checked before refreshing, so nothing is sent for a run whose
    result could not be saved. The real write is still atomic, later."""
    if path.is_dir():
        fail(f"{option} {path}: is a directory; give a file path")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        fail(f"{option} {path}: cannot write there: {err.strerror or err}")


def open_session(state_dir: Path, parallelism: int) -> CloudSession:
    """The one cloud session of a command run.

    Each cluster issues its cluster GET and add-on list together, hence two
    requests in flight per cluster. An ``emulator://`` endpoint keeps its state
    beside the state directory (``.reconciler/emulator/``)."""
    return CloudSession(
        concurrency=parallelism * 2,
        credentials=Credentials.from_env(),
        in_process=EmulatorServices(state_dir.parent),
    )
