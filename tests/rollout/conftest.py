"""A generated fleet served on a socket, for the rollout tests that run real
``reconciler apply`` processes (interrupted, backgrounded, concurrent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.fleet import Fleet, fleet_env, served_fleet

__all__ = ["Fleet", "fleet", "fleet_env"]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A generated fleet of 4 on a socket, its file edited to roll everest out
    with a 2 s canary soak; what the banner says to export."""
    with served_fleet(tmp_path, 4) as served:
        desired = tmp_path / "fleet.yaml"
        desired.write_text(desired.read_text(encoding="utf-8")
                           .replace("everest: {version: 2.4.7}", "everest: {version: 2.4.28}")
                           .replace("soak: 30s", "soak: 2s"), encoding="utf-8")
        yield served
