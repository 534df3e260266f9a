"""Re-sending a POST that failed ambiguously, after looking whether it worked.

A dropped connection or a 5xx after the request went out leaves a POST's
effect unknown (``CloudError.ambiguous``): the client never repeats one on
its own (cloud/sender.py). Whether it may be sent again is the caller's
call, so this is the one loop for it: an install looks for the instance
before re-sending (an add-on must never be installed twice), a rollback
looks at the instance's status, and a precheck task creation, which only
reads, is sent again without looking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reconciler.cloud import CloudError

__all__ = ["POST_ATTEMPTS", "post_retry_delay", "retry_ambiguous"]

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
