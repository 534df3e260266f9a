"""Re-sending a write that failed ambiguously, after looking whether it worked.

A dropped connection or a 5xx after the request went out leaves a POST's
effect unknown (``CloudError.ambiguous``), and an add-on PUT's or DELETE's
too: the client never repeats one on its own (cloud/sender.py). Whether it
may be sent again is the caller's call, so this is the one loop for it: an
install looks for the instance before re-sending (an add-on must never be
installed twice), an update (PUT) or a delete looks at the instance (a
repeat while the operation it started is in flight is refused with 400 "is
upgrading"), a rollback looks at the instance's status, and a precheck task
creation, which only reads, is sent again without looking.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from reconciler.cloud import CloudError
from reconciler.engine.diff import diff_values
from reconciler.model.json import JSON
from reconciler.model.live import IN_PROGRESS_STATUSES, AddonInstance
from reconciler.model.sensitive import NO_RULES

__all__ = ["POST_ATTEMPTS", "Verdict", "post_retry_delay", "put_verdict", "retry_ambiguous"]

T = TypeVar("T")

POST_ATTEMPTS = 6
"""Tries of a POST that failed ambiguously (each after looking whether it worked)."""


def post_retry_delay(attempt: int) -> float:
    """Pause before re-sending a POST: the server just failed, give it a moment."""
    return min(0.2 * 2.0 ** (attempt - 1), 5.0)


async def retry_ambiguous(
    post: Callable[[], Awaitable[T]],
    *,
    look: Callable[[], Awaitable[T | None]] | None = None,
    attempts: int = POST_ATTEMPTS,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Send ``post`` until it answers, up to ``attempts`` times.

    After an ambiguous failure, ``look`` (if given) says whether the POST took
    effect after all: a value is returned as the POST's result, ``None``
    means it did not and the POST may be sent again. The look comes before
    the decision to give up too, so a last attempt that worked still counts.
    A failure that is not ambiguous, and the last ambiguous one, propagate;
    so do errors of ``look`` (if the server can't be read, nothing is known).
    """
    for attempt in range(1, attempts + 1):
        try:
            return await post()
        except CloudError as err:
            if not err.ambiguous:
                raise
            if look is not None:
                found = await look()
                if found is not None:
                    return found
            if attempt == attempts:
                raise
        await sleep(post_retry_delay(attempt))
    raise ValueError(f"attempts must be at least 1, got {attempts!r}")


class Verdict(enum.Enum):
    """What to do about a PUT whose answer was lost, from a look at the instance."""

    WAIT = "wait"
    """An operation is in flight (ours, most likely): wait for it, then look again."""
    DONE = "done"
    """The instance already has the version and values sent: the PUT took effect."""
    RESEND = "resend"
    """The instance is settled and is not what was sent: the PUT did not happen."""


def put_verdict(instance: AddonInstance, version: str, values: Mapping[str, JSON]) -> Verdict:
    """Decide about a PUT of ``version`` and ``values`` whose answer was lost.

    CCE sets the target version and values when it accepts a PUT and then
    reports the instance in progress; re-sending then is refused (400 "is
    upgrading") and would read as a failed upgrade. So an instance in flight
    is waited for, one that already is what was sent needs nothing, and only
    one that is settled and different is sent the PUT again. Pure.
    """
    if instance.status.status in IN_PROGRESS_STATUSES:
        return Verdict.WAIT
    same = instance.version == version and not diff_values(
        instance.values, values, ignore=(), sensitive=NO_RULES, schema=None
    )
    return Verdict.DONE if same else Verdict.RESEND
