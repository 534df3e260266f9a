"""The one cloud session of a command run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cli.options import CommonOptions, env_color
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
        rate_limit_per_s=opts.rate_limit,
        credentials=Credentials.from_env(),
        in_process=EmulatorServices(opts.state_dir.parent),
    )


@contextlib.contextmanager
def session_with_progress(opts: CommonOptions) -> Iterator[CloudSession]:
    """``open_session`` whose refresh shows a progress bar on stderr when it is a
    terminal (nothing otherwise); the bar is removed when the block ends."""
    session = open_session(opts)
    # stderr is the terminal that matters here (stdout may be a pipe or a file);
    # only an explicit "no colour" turns the bar into a plain line.
    color = not opts.no_color and env_color() is not False
    progress = refresh_progress_for(sys.stderr, color=color)
    session.report_to(progress)
    try:
        yield session
    finally:
        progress.close()
