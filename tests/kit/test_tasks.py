"""gather_or_cancel leaves no sibling running after a failure."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.kit.tasks import gather_or_cancel


async def test_results_in_order() -> None:
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    assert await gather_or_cancel(value(1, 0.02), value(2, 0.0)) == [1, 2]


async def test_a_failure_cancels_and_awaits_the_others_before_it_propagates() -> None:
    finished: list[str] = []

    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("gone")

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            finished.append("slow cleaned up")

    with pytest.raises(LookupError):
        await gather_or_cancel(fails(), slow())
    # asyncio.gather would have raised with `slow` still sleeping, its cleanup not run.
    assert finished == ["slow cleaned up"]
