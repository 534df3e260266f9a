"""Progress of a running apply: live per-cluster lines on a terminal, log lines otherwise.

Everything here goes to stderr (the caller passes the stream): stdout is kept
for the plan and the summary.
"""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.progress import Progress as RichProgressBar
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from reconciler.model.apply import AddonResult, ClusterResult, Outcome, Progress

__all__ = ["LogProgress", "TerminalProgress", "TimedLines", "progress_for"]


def _addon_line(r: AddonResult) -> str:
    versions = ""
    if r.from_version and r.to_version and r.from_version != r.to_version:
        versions = f" {r.from_version} → {r.to_version}"
    elif r.to_version or r.from_version:
        versions = f" {r.to_version or r.from_version}"
    text = f"{r.cluster}: {r.addon}: {r.action.value}{versions}: {r.outcome.value}"
    if r.elapsed_s >= 0.05:
        text += f" after {r.elapsed_s:.1f}s"
    # A blocked write's message says which risk blocked it; the ones accepted
    # beside it let nothing happen, so listing them would read as a pass.
    if r.accepted_risks and r.outcome is not Outcome.BLOCKED:
        text += f" (accepted risks: {', '.join(r.accepted_risks)})"
    if r.message:
        text += f" — {r.message}"
    return text


def _cluster_line(r: ClusterResult) -> str | None:
    if r.error:
        return f"{r.name}: not applied: {r.error}"
    if not r.addons:
        return None
    state = "done" if r.ok else "done with problems"
    return f"{r.name}: {state} in {r.elapsed_s:.1f}s"


class TimedLines:
    """Plain lines stamped with the time since the run started, for CI logs and
    pipes: the apply's progress and the rollout's wave lines read alike."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def _emit(self, text: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.started:7.1f}s] {text}\n")
        self.stream.flush()


class LogProgress(TimedLines):
    """The apply's progress as timed lines."""

    def step(self, cluster: str, text: str) -> None:
        self._emit(f"{cluster}: {text}")

    def addon_done(self, result: AddonResult) -> None:
        self._emit(_addon_line(result))

    def cluster_done(self, result: ClusterResult) -> None:
        line = _cluster_line(result)
        if line:
            self._emit(line)

    def close(self) -> None:
        return None


class TerminalProgress:
    """A spinner line per cluster showing what it is doing and for how long."""

    def __init__(self, stream: TextIO, *, color: bool) -> None:
        self.console = Console(file=stream, no_color=not color, highlight=False)
        self.bar = RichProgressBar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}
        self.bar.start()

    def step(self, cluster: str, text: str) -> None:
        description = f"{cluster}: {text}"
        if cluster not in self.tasks:
            self.tasks[cluster] = self.bar.add_task(description, total=None)
        else:
            self.bar.update(self.tasks[cluster], description=description)

    def addon_done(self, result: AddonResult) -> None:
        style = "green" if result.outcome.ok else "red"
        self.bar.console.print(_addon_line(result), style=style, markup=False)

    def cluster_done(self, result: ClusterResult) -> None:
        line = _cluster_line(result)
        if line:
            self.bar.console.print(line, style="bold" if result.ok else "bold red", markup=False)
        if result.name in self.tasks:
            self.bar.remove_task(self.tasks.pop(result.name))

    def close(self) -> None:
        self.bar.stop()


def progress_for(stream: TextIO, *, color: bool) -> Progress:
    if stream.isatty():
        return TerminalProgress(stream, color=color)
    return LogProgress(stream)
