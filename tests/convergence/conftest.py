"""Fixtures of the issue-11 convergence tests: the demo emulator on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conv_helpers import Cloud, serve_cloud


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "convergence: issue 11 end-to-end tests (plan/apply/drift must converge)")


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    """The demo scenario on a socket, real clock, emulated time 1000x: an
    install or upgrade (20 emulated s) takes 20 ms."""
    with serve_cloud(tmp_path) as served:
        yield served
