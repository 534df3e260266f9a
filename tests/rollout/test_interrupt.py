"""``apply`` stopped by Ctrl-C or SIGTERM (a cancelled CI job) while its canary
wave soaks: one line saying how to resume, exit 130 / 143, no traceback (it
was "Aborted!" for Ctrl-C and a silent death for SIGTERM); running the same
command again re-soaks the canary and finishes the rollout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~17 s: two fleets served, a rollout run to the end

TOKEN_RE = "export HW_AUTH_TOKEN="
ALLOW_RE = "export RECONCILER_ALLOWED_ENDPOINTS="


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A generated fleet of 4 on a socket, its file edited to roll everest out
    with a 2 s canary soak; the token to export."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", "4", "--port",
         "0", "--write-desired", "fleet.yaml", "--time-scale", "200"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        token = allowed = ""
        while not (token and allowed):  # what the banner says to export
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
        yield token, allowed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _env(fleet: tuple[str, str]) -> dict[str, str]:
    token, allowed = fleet
    env = {k: v for k, v in os.environ.items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    return {**env, "HW_AUTH_TOKEN": token, "NO_COLOR": "1",
            "RECONCILER_ALLOWED_ENDPOINTS": allowed}


COMMAND = [sys.executable, "-m", "reconciler", "apply", "fleet.yaml", "--auto-approve"]


@pytest.mark.parametrize(("signum", "code", "name"), [
    (signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C (SIGINT)")])
def test_a_signal_while_soaking_says_how_to_resume(
        tmp_path: Path, fleet: tuple[str, str], signum: int, code: int, name: str) -> None:
    with (tmp_path / "apply.out").open("w") as out:
        proc = subprocess.Popen(COMMAND, cwd=tmp_path, env=_env(fleet), stdout=out,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        seen: list[str] = []
        while "wave canary: soaking" not in (seen[-1] if seen else ""):
            line = proc.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        proc.send_signal(signum)
        rest = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=30) == code, "".join(seen) + rest
    assert "Traceback" not in rest and "Aborted!" not in rest, rest
    message = [line for line in rest.splitlines() if line.startswith("error:")]
    assert message == [
        f"error: apply stopped by {name}: what was written so far is recorded in the state and"
        " journal. To resume, run reconciler apply fleet.yaml --auto-approve (a rollout"
        " re-checks the wave it was in before going on)"], rest
    assert "wave prod: starting" not in rest
    if signum != signal.SIGTERM:
        return
    # The same command resumes: the canary is soaked again, then the rest go.
    again = subprocess.run(COMMAND, cwd=tmp_path, env=_env(fleet), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "wave canary: soaking" in again.stderr
    assert "Rollout complete: 3 of 3 waves passed." in again.stdout
