"""Faults injected on demand: latency, 500s, 429s, a rate limit, dropped connections."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DroppedConnection", "Faults"]


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


class DroppedConnection(Exception):
    """Raised by the app to drop a connection mid-response. Under uvicorn the
    response is cut after its headers and the socket is closed; in-process,
    ``reconciler.cloud.transport.InProcessTransport`` turns it into the error a
    cut socket gives (``httpx.RemoteProtocolError``). A plain exception: the
    emulator knows nothing of the client's HTTP library."""

    def __init__(self) -> None:
        super().__init__("emulator fault: connection dropped")
