"""The checks every command runs before it sends anything, each ending in exit 1.

Each helper prints one clear line (or the diagnostics) on stderr and exits 1,
so that the commands read as the sequence of their checks.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import click

from reconciler.cli.inprocess import packaged_scenarios
from reconciler.cli.options import CommonOptions
from reconciler.cloud import PreflightError, preflight
from reconciler.config.options import load_from_options
from reconciler.masking import register, register_paths
from reconciler.masking.files import refuse_unless_regular
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import InputError
from reconciler.model.plan import Plan
from reconciler.model.secret_template import template_names
from reconciler.planfile import looks_like_plan_file
from reconciler.run.prechecks import parse_accept_risks
from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.local import LocalBackend
from reconciler.views.diagnostics import diagnostics_text

__all__ = [
    "accept_risks_or_exit",
    "check_state_writable_or_exit",
    "check_writable_or_exit",
    "desired_endpoints",
    "fail",
    "load_or_exit",
    "preflight_or_exit",
    "register_plan_secrets",
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
    if desired.warnings:
        click.echo(diagnostics_text(desired.warnings), err=True, nl=False)
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
    # Their paths too, and the declared `sensitive:` ones: the live value
    # there (the old one, after a rotation) is masked where bodies are logged.
    for cluster in desired.clusters:
        for addon in cluster.addons:
            register_paths(addon.name, (*addon.secret_sources, *addon.sensitive))


def register_plan_secrets(plan: Plan, environ: Mapping[str, str]) -> None:
    """A saved plan's counterpart of ``register_secrets``, before anything is sent:
    the secrets apply re-reads from the environment to refill the plan's hashed
    leaves, and every path the plan holds as sensitive."""
    register(
        environ.get(name)
        for cp in plan.clusters
        for change in cp.changes
        for name in _secret_names(change.secret_sources, change.secret_templates)
    )
    for cp in plan.clusters:
        for change in cp.changes:
            register_paths(change.addon, (*change.secret_sources, *change.sensitive_paths))


def _secret_names(sources: Mapping[str, Sequence[str]],
                  templates: Mapping[str, str]) -> Iterator[str]:
    for names in sources.values():
        yield from names
    for template in templates.values():
        yield from template_names(template)


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
    if path.is_dir() and not path.is_symlink():
        fail(f"{option} {path}: is a directory; give a file path")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        refuse_unless_regular(path)  # a device, FIFO or symlink is never replaced
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        fail(f"{option} {path}: cannot write there: {err.strerror or err}")


def check_state_writable_or_exit(store: StateBackend,
                                  option: str = "--state-dir (or --state)") -> None:
    """Exit 1 unless a local state directory can be created and written, checked
    before anything is sent: otherwise every cluster's lock would fail with the
    same OS error after the run started. Remote backends say so when opened."""
    if not isinstance(store, LocalBackend):
        return
    directory = store.state_dir
    # The directories this check creates are removed again: a run that then
    # stops on some other error leaves nothing behind.
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        fail(f"state directory {directory}: cannot keep the state there:"
             f" {err.strerror or err}; give {option} a directory you can write to")
    for created in missing:  # deepest first; one another run filled in the meantime stays
        with contextlib.suppress(OSError):
            created.rmdir()
