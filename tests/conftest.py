"""Fixtures shared across test packages (additive edits only: several layers use this)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn

from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from reconciler.masking import reset_redactor


class FakeClock:
    """A clock tests move by hand; thread-safe enough for a float."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class EmulatorServer:
    url: str
    """``http://127.0.0.1:PORT``."""
    emulator: Emulator
    clock: FakeClock


@contextmanager
def serve_emulator(emulator: Emulator) -> Iterator[str]:
    """Serve ``emulator.app`` with uvicorn on a free port in a background thread."""
    # interface="asgi3": uvicorn takes a bound async method for an ASGI2 app
    config = uvicorn.Config(emulator.app, host="127.0.0.1", port=0, log_level="critical",
                            lifespan="on", interface="asgi3")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("emulator server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def emulator_server() -> Iterator[EmulatorServer]:
    """The demo scenario on a real socket, on a fake clock (``.clock.advance(s)``)."""
    clock = FakeClock()
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=clock)
    with serve_emulator(emulator) as url:
        yield EmulatorServer(url, emulator, clock)


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """The redactor is process-wide: secrets one test registers must not mask another's output."""
    reset_redactor()
    yield
    reset_redactor()
