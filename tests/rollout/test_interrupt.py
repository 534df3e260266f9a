"""``apply`` stopped by Ctrl-C or SIGTERM (a cancelled CI job) while its canary
wave soaks: one line saying how to resume, exit 130 / 143, no traceback (it
was "Aborted!" for Ctrl-C and a silent death for SIGTERM); running the same
command again re-soaks the canary and finishes the rollout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Fleet, fleet_env

pytestmark = pytest.mark.slow  # ~17 s: two fleets served, a rollout run to the end

COMMAND = [sys.executable, "-m", "reconciler", "apply", "fleet.yaml", "--auto-approve"]


@pytest.mark.parametrize(("signum", "code", "name"), [
    (signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C (SIGINT)")])
def test_a_signal_while_soaking_says_how_to_resume(
        tmp_path: Path, fleet: Fleet, signum: int, code: int, name: str) -> None:
    with (tmp_path / "apply.out").open("w") as out:
        proc = subprocess.Popen(COMMAND, cwd=tmp_path, env=fleet_env(fleet), stdout=out,
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
    again = subprocess.run(COMMAND, cwd=tmp_path, env=fleet_env(fleet), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "wave canary: soaking" in again.stderr
    assert "Rollout complete: 3 of 3 waves passed." in again.stdout


@pytest.mark.parametrize(("signum", "code", "name"), [
    (signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C (SIGINT)")])
def test_an_apply_backgrounded_by_a_script_still_stops_on_a_signal(
        tmp_path: Path, fleet: Fleet, signum: int, code: int, name: str) -> None:
    """`apply &` in a non-interactive shell starts with SIGINT ignored; the
    SIGTERM handler used to re-raise it as that ignored SIGINT, so the apply
    ran on to the end."""
    script = '"$@" & echo $! > apply.pid; wait $!'
    with (tmp_path / "apply.out").open("w") as out:
        proc = subprocess.Popen(["sh", "-c", script, "sh", *COMMAND], cwd=tmp_path,
                                env=fleet_env(fleet), stdout=out, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        seen: list[str] = []
        while "wave canary: soaking" not in (seen[-1] if seen else ""):
            line = proc.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        os.kill(int((tmp_path / "apply.pid").read_text()), signum)
        rest = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=30) == code, "".join(seen) + rest
    assert "Traceback" not in rest, rest
    resume = [line for line in rest.splitlines() if "To resume" in line]
    assert len(resume) == 1 and resume[0].startswith(f"error: apply stopped by {name}:"), rest
    assert "wave prod: starting" not in rest
    assert "Rollout complete" not in (tmp_path / "apply.out").read_text()
