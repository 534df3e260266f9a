"""An ``httpx.MockTransport`` that answers from a script and records what it got.

For precise fault sequences (a 429 then a 200, a timeout on the third call…)
that a random fault injector can't give; everything above the transport is the
real client code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Step = httpx.Response | BaseException | Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


@dataclass
class Recorder:
    """Replays ``steps`` in order (the last one repeats) and records each request."""

    steps: list[Step] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        index = min(len(self.requests), len(self.steps)) - 1
        step = self.steps[index] if self.steps else json_response(200, {})
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx.Response):  # a fresh copy: a step may repeat
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        return step(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)
