"""``gather_or_cancel``: ``asyncio.gather`` that leaves no orphan behind.

``asyncio.gather`` raises the first exception at once and lets the other
awaitables run on unobserved: a request still in flight after its sibling
failed outlives the session that sent it, and its socket is closed (if at all)
after the event loop is gone. Here the others are cancelled and awaited
before the exception propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["gather_or_cancel"]


async def gather_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """The results in order; on the first exception (or cancellation), every
    other awaitable is cancelled and awaited, then the exception propagates."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
