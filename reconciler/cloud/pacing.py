"""How fast one endpoint is sent to: a rate limit given, or learned from 429s.

CCE limits requests per tenant. With ``--rate-limit R`` the client never
sends faster than R per second per endpoint (a token bucket with no burst,
so requests are evenly spaced and a gateway's own bucket never runs dry).

Without it the pace adapts, AIMD-like: the first 429 sets the rate to what
the gateway actually let through over the last second (the throttled
requests are retried, honouring ``Retry-After``), a further 429 cuts it again
(at most once per :data:`_CUT_COOLDOWN_S`, so a burst of refusals from one
overrun counts once), and while no 429 comes the rate climbs again, faster
the longer it lasts, so that a lifted limit is found again. A rate given
with ``--rate-limit`` is also the ceiling of that adaptation: a limit set
too high still backs off on 429s.

Why measure rather than halve: a gateway that refuses what exceeds its rate
lets exactly its rate through, so the accepted rate is the limit; halving
and climbing back (classic AIMD) spends a quarter of the run below it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from reconciler.kit.tokenbucket import TokenBucket

__all__ = ["Pace"]

_WINDOW_S = 1.0
"""Accepted responses are counted over this window to estimate the limit."""
_MIN_WINDOW_S = 0.05
"""Early in a run the window is the time since the first response, but not
shorter than this."""
_MIN_SAMPLES = 10
"""Fewer accepted responses than this in a window shorter than a second say
nothing of a limit yet: a 429 then only delays its own retry."""
_CUT_COOLDOWN_S = 0.2
_BELOW = 0.95
"""The rate after a cut, as a share of the accepted rate measured."""
_MIN_RATE = 1.0
_PEAK_FLOOR = 0.4
"""A cut never goes below this share of the best accepted rate seen over a
whole window. Under a rate limit the accepted rate is the limit; under random
429s it falls with every cut and would spiral the pace down to a crawl."""
_GROWTH = 0.02
_GROWTH_GAIN = 0.025
"""After a cut the rate climbs as ``cut × exp(0.02 s + 0.025 s²)``, ``s``
seconds after it: 2% a second at first, back above the cut-from rate in about
a second, and a hundredfold in 14 s, so a lifted limit is found again."""
_UNPACED_ABOVE = 10_000.0
"""A learned rate that climbed past this stops pacing altogether."""


class Pace:
    """The pace of one endpoint, shared by every request sent to it."""

    def __init__(self, ceiling_per_s: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling_per_s is not None and ceiling_per_s <= 0:
            raise ValueError("a rate limit must be positive")
        self.ceiling = ceiling_per_s
        self._clock = clock
        self._bucket = TokenBucket(ceiling_per_s, clock=clock) if ceiling_per_s else None
        self._accepted: deque[float] = deque()
        self._first: float | None = None
        self._peak = 0.0
        self._cut_at = -math.inf
        self._cut_to = 0.0
        self.cuts = 0
        """How many times a 429 cut the rate (for reports and tests)."""

    @property
    def rate(self) -> float | None:
        """Requests per second now; None: not paced."""
        return self._bucket.rate_per_s if self._bucket is not None else None

    async def wait(self) -> float:
        """Wait for this endpoint's next slot; the seconds waited."""
        if self.cuts:
            self._climb()
        bucket = self._bucket
        if bucket is None:
            return 0.0
        started = self._clock()
        await bucket.acquire()
        return self._clock() - started

    def _climb(self) -> None:
        bucket = self._bucket
        if bucket is None:
            return
        since = self._clock() - self._cut_at
        rate = self._cut_to * math.exp(min(50.0, _GROWTH * since + _GROWTH_GAIN * since * since))
        if self.ceiling is not None:
            rate = min(rate, self.ceiling)
        elif rate > _UNPACED_ABOVE:
            self._bucket = None  # the limit is gone: as fast as the pool allows
            return
        bucket.set_rate(rate, 1.0)

    def accepted(self) -> None:
        """A response that was not a 429 (counted to estimate the limit)."""
        now = self._clock()
        if self._first is None:
            self._first = now
        accepted = self._accepted
        accepted.append(now)
        while accepted[0] < now - _WINDOW_S:
            accepted.popleft()
        if now - self._first >= _WINDOW_S:
            self._peak = max(self._peak, len(accepted) / _WINDOW_S)

    def _window(self, now: float) -> float:
        """The window accepted responses are counted over (shorter early on)."""
        if self._first is None:
            return _WINDOW_S
        return min(_WINDOW_S, max(_MIN_WINDOW_S, now - self._first))

    def throttled(self) -> None:
        """A 429: cut the rate to just below what was accepted over the last
        second (at most once per cool-down)."""
        now = self._clock()
        if now - self._cut_at < _CUT_COOLDOWN_S:
            return
        accepted = self._accepted
        while accepted and accepted[0] < now - _WINDOW_S:
            accepted.popleft()
        full = self._first is not None and now - self._first >= _WINDOW_S
        if len(accepted) < _MIN_SAMPLES and not full:
            return
        if self.cuts:
            self._climb()  # the rate reached since the last cut
        target = len(accepted) / self._window(now) * _BELOW
        current = self.rate
        if current is not None:
            target = min(target, current * _BELOW)
        target = max(target, _MIN_RATE, self._peak * _PEAK_FLOOR)
        if self.ceiling is not None:
            target = min(target, self.ceiling)
        self._cut_at, self._cut_to = now, target
        self.cuts += 1
        if self._bucket is None:
            self._bucket = TokenBucket(target, clock=self._clock)
        else:
            self._bucket.set_rate(target, 1.0)
