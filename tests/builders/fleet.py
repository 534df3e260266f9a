"""A generated fleet served on a socket by a real ``reconciler emulator serve``
process, for tests that run real ``reconciler`` processes against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

TOKEN_RE = "export HW_AUTH_TOKEN="
ALLOW_RE = "export RECONCILER_ALLOWED_ENDPOINTS="


class Fleet(NamedTuple):
    token: str
    """The token the banner says to export."""
    allowed: str
    """The socket endpoint the banner says to allow (the files name it)."""


@contextmanager
def served_fleet(cwd: Path, clusters: int) -> Iterator[Fleet]:
    """Serve ``clusters`` generated clusters (time scale 200), writing their
    desired state to ``cwd/fleet.yaml``; what the banner says to export."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", str(clusters),
         "--port", "0", "--write-desired", "fleet.yaml", "--time-scale", "200"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        yield Fleet(token, allowed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def fleet_env(fleet: Fleet, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this environment), with the fleet's token as the only
    cloud credential and its endpoint allowed, as the banner says."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    return {**env, "HW_AUTH_TOKEN": fleet.token, "NO_COLOR": "1",
            "RECONCILER_ALLOWED_ENDPOINTS": fleet.allowed}
