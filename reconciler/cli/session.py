"""The one cloud session of a command run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cli.options import CommonOptions
from reconciler.cloud import CloudSession, Credentials
from reconciler.views.refreshprogress import refresh_progress_for

__all__ = ["open_session", "session_with_progress"]


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


@contextlib.contextmanager
def session_with_progress(opts: CommonOptions) -> Iterator[CloudSession]:
    """``open_session`` whose refresh shows a progress bar on stderr when it is a
    terminal (nothing otherwise); the bar is removed when the block ends."""
    session = open_session(opts)
    progress = refresh_progress_for(sys.stderr, color=opts.color)
    session.report_to(progress)
    try:
        yield session
    finally:
        progress.close()
