"""Faults injected on demand: latency, 500s, 429s, a rate limit, dropped connections."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["DroppedConnection", "Faults", "RateLimiter"]


@dataclass
class Faults:
    """Mutable on purpose: tests change faults while the emulator runs."""

    latency_ms: float = 0
    error_rate: float = 0.0
    """Probability of a 500 ``CCE.03500001``."""
    throttle_rate: float = 0.0
    """Probability of a 429 ``APIG.0308`` with ``Retry-After``."""
    retry_after_s: int = 1
    rate_limit_per_s: float | None = None
    """Requests per second above which the gateway answers 429."""
    drop_rate: float = 0.0
    """Probability of closing the connection mid-response."""


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection. Under ``httpx.ASGITransport`` the
    client sees this transport error itself; under uvicorn the response is cut
    after its headers and the socket is closed."""

    def __init__(self) -> None:
        super().__init__("emulator fault: connection dropped")


class RateLimiter:
    """A token bucket of ``rate`` requests per second, burst of one second's worth."""

    def __init__(self) -> None:
        self.tokens = 0.0
        self.last: float | None = None

    def allow(self, rate: float, now: float) -> bool:
        burst = max(rate, 1.0)
        if self.last is None:
            self.tokens = burst
        else:
            self.tokens = min(burst, self.tokens + (now - self.last) * rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
