"""poll_until: the one deadline-polling loop (kit/polling.py).

A fake clock that only sleep moves makes every timing assertion exact.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from reconciler.kit.polling import PollTimeout, poll_until


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def script(t: FakeTime, values: list[str]) -> tuple[Callable[[], Awaitable[str]], list[float]]:
    """A fetch that returns ``values`` in turn and records when it was called."""
    calls: list[float] = []
    pending = iter(values)

    async def fetch() -> str:
        calls.append(t.now)
        return next(pending)

    return fetch, calls


async def test_returns_the_first_value_done_accepts_after_waiting_first() -> None:
    t = FakeTime()
    fetch, calls = script(t, ["installing", "installing", "running"])
    got = await poll_until(fetch, lambda s: s == "running", deadline=100, interval=2,
                           clock=t.clock, sleep=t.sleep)
    assert got == "running"
    assert calls == [2, 4, 6]  # the first poll waits too: the POST was the first look
    assert t.sleeps == [2, 2, 2]


async def test_first_wait_false_fetches_at_once() -> None:
    t = FakeTime()
    fetch, calls = script(t, ["a", "b"])
    got = await poll_until(fetch, lambda s: s == "b", deadline=100, interval=5, first_wait=False,
                           clock=t.clock, sleep=t.sleep)
    assert got == "b"
    assert calls == [0, 5]


async def test_timeout_reports_the_last_value_and_never_sleeps_past_the_deadline() -> None:
    t = FakeTime()
    fetch, calls = script(t, ["installing"] * 10)
    with pytest.raises(PollTimeout) as caught:
        await poll_until(fetch, lambda s: s == "running", deadline=7, interval=3,
                         clock=t.clock, sleep=t.sleep)
    assert caught.value.last == "installing"
    assert caught.value.polls == 3
    assert t.sleeps == [3, 3, 1]  # the last sleep is cut to the deadline
    assert calls == [3, 6, 7]  # ... and is followed by one last look
    assert isinstance(caught.value, TimeoutError)


async def test_the_last_look_at_the_deadline_can_still_succeed() -> None:
    t = FakeTime()
    fetch, _ = script(t, ["installing", "installing", "running"])
    got = await poll_until(fetch, lambda s: s == "running", deadline=7, interval=3,
                           clock=t.clock, sleep=t.sleep)
    assert got == "running"
    assert t.now == 7


async def test_without_last_look_a_sleep_onto_the_deadline_ends_the_wait() -> None:
    t = FakeTime()
    fetch, calls = script(t, ["installing", "installing", "running"])
    with pytest.raises(PollTimeout) as caught:
        await poll_until(fetch, lambda s: s == "running", deadline=7, interval=3,
                         last_look=False, clock=t.clock, sleep=t.sleep)
    assert calls == [3, 6]
    assert caught.value.polls == 2


async def test_backoff_grows_the_interval_up_to_the_cap() -> None:
    t = FakeTime()
    fetch, _ = script(t, ["x"] * 6)
    with pytest.raises(PollTimeout):
        await poll_until(fetch, lambda s: False, deadline=13, interval=2, backoff=1.5,
                         max_interval=4, clock=t.clock, sleep=t.sleep)
    assert t.sleeps == [2, 3, 4, 4]


async def test_a_deadline_already_passed_fetches_nothing() -> None:
    t = FakeTime()
    t.now = 10
    fetch, calls = script(t, ["x"])
    with pytest.raises(PollTimeout) as caught:
        await poll_until(fetch, lambda s: True, deadline=10, interval=1, first_wait=False,
                         clock=t.clock, sleep=t.sleep)
    assert calls == []
    assert caught.value.last is None
    assert caught.value.polls == 0


async def test_errors_from_done_and_fetch_propagate() -> None:
    t = FakeTime()
    fetch, _ = script(t, ["failed"])

    def done(status: str) -> bool:
        if status == "failed":
            raise RuntimeError("the add-on failed")
        return False

    with pytest.raises(RuntimeError, match="the add-on failed"):
        await poll_until(fetch, done, deadline=10, interval=1, clock=t.clock, sleep=t.sleep)

    async def broken() -> str:
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        await poll_until(broken, lambda s: True, deadline=10, interval=1,
                         clock=t.clock, sleep=t.sleep)


async def test_a_non_positive_interval_is_refused() -> None:
    async def fetch() -> str:
        return "x"

    with pytest.raises(ValueError, match="interval must be positive"):
        await poll_until(fetch, lambda s: True, deadline=10, interval=0)


async def test_defaults_use_the_real_monotonic_clock_and_asyncio_sleep() -> None:
    seen: list[int] = []

    async def fetch() -> int:
        seen.append(len(seen))
        return len(seen)

    started = time.monotonic()
    got = await poll_until(fetch, lambda n: n >= 3, deadline=started + 5, interval=0.01)
    assert got == 3
    assert 0.03 <= time.monotonic() - started < 5
