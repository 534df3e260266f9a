"""The state backend of a command run, from ``--state``, ``RECONCILER_STATE`` or ``--state-dir``.

Which one wins: a flag typed now, then ``RECONCILER_STATE``, then the
desired-state files' ``state:`` block, then ``--state-dir``'s default (both
flags at once is a usage error: one of them would be silently ignored).
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.errors import StateError
from reconciler.statemgr.factory import open_backend

__all__ = ["open_state", "state_location"]


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
