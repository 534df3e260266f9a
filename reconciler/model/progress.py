"""What a refresh reports while it reads the fleet (clusters read, retries,
throttling waits), so a terminal can show that a slow run is working.

The run and the cloud client call it; views implement it (a rich bar on a
terminal), so it lives with the data, like the apply ``Progress`` protocol.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["QuietRefresh", "RefreshProgress"]


class RefreshProgress(Protocol):
    def reading(self, cluster: str) -> None:
        """A cluster's read (cluster and add-on instances) has started."""

    def read(self, cluster: str) -> None:
        """That read has finished (successfully or not)."""

    def retrying(self, what: str, attempt: int, delay_s: float, *, throttled: bool) -> None:
        """A request failed and is retried after ``delay_s``; ``throttled`` for HTTP 429."""

    def waited(self, wait_s: float) -> None:
        """A request waited ``wait_s`` for the client-side rate limit."""

    def close(self) -> None: ...


class QuietRefresh:
    """Reports nothing: the default when output is not a terminal."""

    def reading(self, cluster: str) -> None:
        return None

    def read(self, cluster: str) -> None:
        return None

    def retrying(self, what: str, attempt: int, delay_s: float, *, throttled: bool) -> None:
        return None

    def waited(self, wait_s: float) -> None:
        return None

    def close(self) -> None:
        return None
