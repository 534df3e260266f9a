"""The state backend of a command run, from ``--state``, ``RECONCILER_STATE`` or ``--state-dir``.

Which one wins: a flag typed now, then ``RECONCILER_STATE``, then the
desired-state files' ``state:`` block, then ``--state-dir``'s default (both
flags at once is a usage error: one of them would be silently ignored).

A saved plan remembers the remote store it was made against (``Plan.state_url``):
``apply PLAN`` opens it unless the run names a store itself, and then refuses
only a different one. As with its CCE endpoints, nothing vouches for a saved
plan, so a store whose host is neither on Huawei Cloud nor this machine must
be confirmed with ``--state`` before credentials are sent there.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import NoReturn

import click
from click.core import ParameterSource

from reconciler.model.plan import Plan
from reconciler.model.trust import EndpointRule
from reconciler.statemgr import DEFAULT_STATE_DIR
from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.errors import StateError
from reconciler.statemgr.factory import open_backend

__all__ = ["apply_hint", "open_plan_state", "open_state", "state_location"]

_GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def state_location(state: str | None, state_dir: Path, file_url: str | None = None) -> str:
    """The URL or path this run's state lives at."""
    ctx = click.get_current_context(silent=True)
    dir_typed = (ctx is not None
                 and ctx.get_parameter_source("state_dir") is ParameterSource.COMMANDLINE)
    if state is None or not state.strip():
        if file_url and not dir_typed:
            return file_url
        return str(state_dir)
    if ctx is not None:
        given = ctx.get_parameter_source("state")
        dir_given = ctx.get_parameter_source("state_dir")
        if given is ParameterSource.COMMANDLINE and dir_given is ParameterSource.COMMANDLINE:
            raise click.UsageError("give --state or --state-dir, not both")
        if given is ParameterSource.ENVIRONMENT and dir_given is ParameterSource.COMMANDLINE:
            return str(state_dir)  # the flag typed now wins over the environment
    return state


def open_state(state: str | None, state_dir: Path, file_url: str | None = None) -> StateBackend:
    """The backend, closed when the command ends; a bad URL is a one-line error, exit 1.

    Credentials come from the environment (``open_backend``); the messages
    of ``BackendConfigError`` never hold them.
    """
    try:
        backend = open_backend(state_location(state, state_dir, file_url))
    except StateError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(1) from None
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(backend.close)
    return backend


def _store_given(state: str | None) -> bool:
    """Did this run name a store (``--state``/``RECONCILER_STATE``, ``--state-dir``
    typed or ``RECONCILER_STATE_DIR``)?"""
    if state is not None and state.strip():
        return True
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source("state_dir") in _GIVEN


def open_plan_state(plan: Plan, state: str | None, state_dir: Path,
                    rule: EndpointRule) -> StateBackend:
    """The store to apply a saved plan in: the one this run names, refused if it
    is not the plan's; else the plan's own (``Plan.state_url``), when the
    operator's endpoint rule allows every place it sends to (a saved plan is
    untrusted, as a desired-state file's ``state:`` block is)."""
    if plan.state_url and not _store_given(state):
        refusal = rule.state_refusal(plan.state_url)
        if refusal is not None:
            why, how = refusal
            _exit(f"the plan was made against the state in {plan.state_backend}: {why};"
                  f" {how}, or confirm it with --state {shlex.quote(plan.state_url)}")
        return _opened(plan.state_url)
    store = open_state(state, state_dir)
    if plan.state_backend != store.identity:
        # Its serials and lineages are another store's: checked against this
        # one, the plan could look fresh (or stale) for the wrong reason.
        fix = ("give none of --state, RECONCILER_STATE and --state-dir to use the plan's"
               " own store" if plan.state_url else
               "apply it with --state (or RECONCILER_STATE) naming that store")
        _exit(f"the plan was made against the state in {plan.state_backend}, but this"
              f" apply uses {store.identity}: {fix}, or plan again against this one")
    return store


def apply_hint(plan_file: Path, store: StateBackend, location: str,
               rule: EndpointRule) -> str:
    """The command that applies a plan just saved in ``store`` (at ``location``),
    with the flag it needs: none for a remote store the plan may open itself
    (``rule``, the operator's, allows it)."""
    command = ["reconciler", "apply", str(plan_file)]
    if store.identity != "local":
        if rule.state_refusal(location) is not None:
            command += ["--state", location]
    elif Path(location) != DEFAULT_STATE_DIR:
        command += ["--state-dir", location]
    return shlex.join(command)


def _opened(url: str) -> StateBackend:
    try:
        backend = open_backend(url)
    except StateError as err:
        _exit(str(err))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(backend.close)
    return backend


def _exit(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)
