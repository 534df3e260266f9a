"""The checks every command runs before it sends anything, each ending in exit 1.

Each helper prints one clear line (or the diagnostics) on stderr and exits 1,
so that the commands read as the sequence of their checks.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import click

from reconciler.cli.inprocess import packaged_scenarios
from reconciler.cli.options import CommonOptions
from reconciler.cloud import PreflightError, preflight
from reconciler.config.options import load_from_options
from reconciler.masking import register
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import InputError
from reconciler.planfile import looks_like_plan_file
from reconciler.run.prechecks import parse_accept_risks
from reconciler.views.diagnostics import diagnostics_text

__all__ = [
    "accept_risks_or_exit",
    "check_writable_or_exit",
    "desired_endpoints",
    "fail",
    "load_or_exit",
    "preflight_or_exit",
    "register_secrets",
]


def fail(message: str) -> NoReturn:
    """The one-line error of a command: stderr, exit 1."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def load_or_exit(opts: CommonOptions, *, clusters: Sequence[str] | None = None) -> DesiredState:
    """Load the desired state, or print every diagnostic and exit 1.

    ``clusters`` replaces ``opts.clusters`` (``import`` names its cluster as
    an argument)."""
    for path in opts.files:
        if looks_like_plan_file(path):
            # Never read a (perhaps corrupt) saved plan as YAML desired state.
            fail(f"{path} is a saved plan, not a desired-state file: apply it alone with"
                 f" `reconciler apply {path}` or read it with `reconciler show {path}`")
    try:
        desired = load_from_options(
            [str(f) for f in opts.files],
            var_assignments=opts.variables,
            var_files=[str(f) for f in opts.var_files],
            clusters=opts.clusters if clusters is None else clusters,
            endpoint=opts.endpoint,
            addons=opts.addons,
            allowed_endpoints=opts.endpoint_rule,
            allowed_env=opts.env_rule,
        )
    except InputError as err:
        click.echo(diagnostics_text(err.diagnostics), err=True, nl=False)
        raise SystemExit(1) from None
    register_secrets(desired)
    return desired


def register_secrets(desired: DesiredState) -> None:
    """Mask every ``secret()`` value this run read, on every output channel.

    The leaves that hold them are hashed structurally; this also catches the
    same text anywhere else (a plain copy in another key, an error message).
    ``AddonSpec.secret_sources`` names the variables; the loader read them from
    ``os.environ``, so reading them again yields the same values.
    """
    register(
        os.environ.get(name)
        for cluster in desired.clusters
        for addon in cluster.addons
        for names in addon.secret_sources.values()
        for name in names
    )


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
