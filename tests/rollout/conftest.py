"""A generated fleet served on a socket, for the rollout tests that run real
``reconciler apply`` processes (interrupted, backgrounded, concurrent)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

TOKEN_RE = "export HW_AUTH_TOKEN="
ALLOW_RE = "export RECONCILER_ALLOWED_ENDPOINTS="


class Fleet(NamedTuple):
    token: str
    """The token the banner says to export."""
    allowed: str
    """The socket endpoint the banner says to allow (the files name it)."""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A generated fleet of 4 on a socket, its file edited to roll everest out
    with a 2 s canary soak; what the banner says to export."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", "4", "--port",
         "0", "--write-desired", "fleet.yaml", "--time-scale", "200"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        token = allowed = ""
        while not (token and allowed):
            line = proc.stdout.readline()
            assert line, "serve ended early"
            if TOKEN_RE in line:
                token = line.split(TOKEN_RE)[1].strip()
            if ALLOW_RE in line:
                allowed = line.split(ALLOW_RE)[1].split()[0]
        desired = tmp_path / "fleet.yaml"
        desired.write_text(desired.read_text(encoding="utf-8")
                           .replace("everest: {version: 2.4.7}", "everest: {version: 2.4.28}")
                           .replace("soak: 30s", "soak: 2s"), encoding="utf-8")
        yield Fleet(token, allowed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def fleet_env(fleet: Fleet) -> dict[str, str]:
    """This environment, with the fleet's token as the only cloud credential and
    its endpoint allowed, as the banner says."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    return {**env, "HW_AUTH_TOKEN": fleet.token, "NO_COLOR": "1",
            "RECONCILER_ALLOWED_ENDPOINTS": fleet.allowed}
