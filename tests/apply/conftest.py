"""Fixtures of the apply tests (a package, so this conftest doesn't shadow
tests/conftest.py for the modules that import ``serve_emulator`` from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .apply_helpers import DesiredFiles, desired_file

__all__ = ["desired"]


@pytest.fixture
def desired(tmp_path: Path) -> DesiredFiles:
    """Writes a desired-state file into ``tmp_path``: ``addons`` of t-main, or
    ``clusters`` (name → ``builders.desired.cluster(...)``)."""

    def write(addons: Any = None, *, clusters: Any = None, name: str = "desired.yaml") -> Path:
        return desired_file(tmp_path, addons, clusters=clusters, name=name)

    return write
