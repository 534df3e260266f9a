"""The refresh progress bar of plan, drift and import: on a terminal only.

Reading a big fleet, or waiting out a throttled API, takes seconds with
nothing to show; the bar (on stderr, erased when done) says how many clusters
are read and how many retries and throttling waits there were. Not on a
terminal nothing is added: pipes and CI logs keep exactly the output they had
(``-v`` logs the same events as lines).
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reconciler.model.progress import QuietRefresh, RefreshProgress

__all__ = ["PlainTerminalRefresh", "TerminalRefresh", "refresh_progress_for"]


def _note(retries: int, throttled: int, waited_s: float) -> str:
    parts = []
    if retries:
        parts.append(f"{retries} retr{'y' if retries == 1 else 'ies'}")
    if throttled or waited_s:
        parts.append(f"throttled, waited {waited_s:.1f}s")
    return ", ".join(parts)


class TerminalRefresh:
    """One transient rich bar: clusters read of clusters started, with retries and waits."""

    def __init__(self, stream: TextIO, *, color: bool) -> None:
        console = Console(file=stream, no_color=not color, highlight=False)
        self.bar = Progress(
            TextColumn("Reading clusters"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("refresh", total=0, note="")
        self.retries = 0
        self.throttled = 0
        self.waited_s = 0.0
        self.bar.start()

    def _note(self) -> str:
        return _note(self.retries, self.throttled, self.waited_s)

    def reading(self, cluster: str) -> None:
        total = self.bar.tasks[0].total or 0
        self.bar.update(self.task, total=total + 1)

    def read(self, cluster: str) -> None:
        self.bar.advance(self.task)

    def retrying(self, what: str, attempt: int, delay_s: float, *, throttled: bool) -> None:
        self.retries += 1
        if throttled:
            self.throttled += 1
            self.waited_s += delay_s
        self.bar.update(self.task, note=self._note())

    def waited(self, wait_s: float) -> None:
        self.waited_s += wait_s
        self.bar.update(self.task, note=self._note())

    def close(self) -> None:
        self.bar.stop()


class PlainTerminalRefresh:
    """The same counts on one line redrawn with carriage returns: for a terminal
    with colour turned off (NO_COLOR, --no-color), which asks for no escape
    codes at all, and rich's live display needs cursor codes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = self.done = self.retries = self.throttled = 0
        self.waited_s = 0.0
        self.width = 0

    def _draw(self) -> None:
        note = _note(self.retries, self.throttled, self.waited_s)
        line = f"Reading clusters {self.done}/{self.total}" + (f" ({note})" if note else "")
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(line))

    def reading(self, cluster: str) -> None:
        self.total += 1
        self._draw()

    def read(self, cluster: str) -> None:
        self.done += 1
        self._draw()

    def retrying(self, what: str, attempt: int, delay_s: float, *, throttled: bool) -> None:
        self.retries += 1
        if throttled:
            self.throttled += 1
            self.waited_s += delay_s
        self._draw()

    def waited(self, wait_s: float) -> None:
        self.waited_s += wait_s
        self._draw()

    def close(self) -> None:
        if self.width:  # erase the line: the output that follows starts clean
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def refresh_progress_for(stream: TextIO, *, color: bool) -> RefreshProgress:
    """A bar on a terminal (a plain redrawn line when colour is off); nothing at
    all when ``stream`` is not a terminal."""
    if not stream.isatty():
        return QuietRefresh()
    if color:
        return TerminalRefresh(stream, color=True)
    return PlainTerminalRefresh(stream)
