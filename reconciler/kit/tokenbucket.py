"""A token bucket: at most ``rate`` requests per second on average.

One bucket serves both sides of the wire: the client waits for a token
(:meth:`TokenBucket.acquire`), the emulator's gateway refuses a request when
there is none (:meth:`TokenBucket.try_take`, answering 429).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Tokens refill continuously at ``rate_per_s`` up to ``burst``; each request
    takes one. Waiters are served in arrival order (the lock is held while
    waiting), which keeps the spacing even under contention."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now

    def set_rate(self, rate_per_s: float, burst: float) -> None:
        """Change the rate and burst from now on. The time since the last take
        refills at the new rate (the emulator's faults change while it runs,
        and its gateway has always counted that way)."""
        if rate_per_s < 0:
            raise ValueError("rate_per_s must not be negative")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst

    def try_take(self, now: float | None = None) -> bool:
        """Take a token if one is there, without waiting: False means the
        caller should refuse the request."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                await self._sleep((1.0 - self._tokens) / self.rate_per_s)
                self._refill()
            self._tokens -= 1.0
