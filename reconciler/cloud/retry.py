"""When to try a request again, and how long to wait first.

Exponential backoff with full jitter (a uniformly random wait between zero and
the exponential cap), so that many clients throttled together do not come back
together; a server's ``Retry-After`` is a floor on that wait.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a request gets and how the waits between them grow."""

    max_attempts: int = 5
    """Attempts in all, the first included; 1 disables retries."""
    base_delay_s: float = 0.2
    """Cap of the first wait; each later cap doubles."""
    max_delay_s: float = 10.0
    """Largest cap of a backoff wait."""
    max_retry_after_s: float = 60.0
    """A longer ``Retry-After`` is cut to this, so a bad header can't stall a run."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("delays must not be negative")

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        backoff = random.uniform(0.0, cap)
        if retry_after_s is None:
            return backoff
        return max(backoff, min(retry_after_s, self.max_retry_after_s))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a delay
