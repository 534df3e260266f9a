"""Deadline polling: fetch, test, sleep, until done or out of time.

One loop for every "wait until the server says so" in the tool (add-on
health, deletion, precheck tasks, readiness checks, drift inspection), so the
deadline arithmetic is written once: never sleep past the deadline, take one
last look when the sleep lands on it, and grow the interval when asked.
Stdlib only; the clock and the sleep are parameters so tests need no real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PollTimeout", "poll_until"]

T = TypeVar("T")


class PollTimeout(TimeoutError, Generic[T]):
    """The deadline passed before ``done`` accepted a value.

    ``last`` is the last value fetched (None if none was), so that a caller can
    say what the server last reported; ``polls`` is how many fetches were made.
    """

    def __init__(self, last: T | None, polls: int) -> None:
        super().__init__(f"not done after {polls} poll(s)")
        self.last = last
        self.polls = polls


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    deadline: float,
    interval: float,
    backoff: float = 1.0,
    max_interval: float | None = None,
    first_wait: bool = True,
    last_look: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Fetch until ``done(value)`` is true and return that value.

    ``deadline`` is absolute, on ``clock``. Before each fetch (also the first,
    unless ``first_wait`` is false: a POST just made is itself the first look)
    sleep ``min(interval, time left)``; after each sleep the interval is
    multiplied by ``backoff`` and capped at ``max_interval``. When a sleep
    ends at the deadline, one more fetch is made if ``last_look`` (a status
    that turned at the last moment still counts), else ``PollTimeout`` is
    raised straight away. Exceptions from ``fetch`` and ``done`` propagate:
    ``done`` raises for a terminal failure, and ``fetch`` catches the errors
    worth riding out and returns a value ``done`` rejects.
    """
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    wait = interval
    last: T | None = None
    polls = 0
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise PollTimeout(last, polls)
        if polls or first_wait:
            await sleep(min(wait, remaining))
            wait *= backoff
            if max_interval is not None:
                wait = min(wait, max_interval)
            if not last_look and clock() >= deadline:
                raise PollTimeout(last, polls)
        last = await fetch()
        polls += 1
        if done(last):
            return last
