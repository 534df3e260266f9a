"""The one cloud session of a command run."""

from __future__ import annotations

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cli.options import CommonOptions
from reconciler.cloud import CloudSession, Credentials

__all__ = ["open_session"]


def open_session(opts: CommonOptions) -> CloudSession:
    """A session for the run's flow to enter (``async with``) and close.

    Each cluster issues its cluster GET and add-on list together, hence two
    requests in flight per cluster. An ``emulator://`` endpoint keeps its state
    beside the state directory (``.reconciler/emulator/``)."""
    return CloudSession(
        concurrency=opts.parallelism * 2,
        credentials=Credentials.from_env(),
        in_process=EmulatorServices(opts.state_dir.parent),
    )
