"""A rollout process killed (SIGKILL) while its canary wave soaks: the next run
must soak the canary again before it touches the next wave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import serve_emulator

from reconciler.model.rollout_result import SoakOutcome
from reconciler.statemgr.local import LocalBackend

from .rollout_helpers import (
    SECRET,
    RecordingApp,
    desired_file,
    journal_kinds,
    live_versions,
    new_emulator,
    run_rollout,
    wave,
    waves,
)

TESTS = Path(__file__).parents[1]


async def test_a_process_killed_while_soaking_is_soaked_again(tmp_path: Path) -> None:
    emu = new_emulator(tmp_path)
    store = LocalBackend(tmp_path / "state")
    path = desired_file(tmp_path)
    env = {**os.environ, "HW_ACCESS_KEY": emu.account.access_key,
           "HW_SECRET_KEY": emu.account.secret_key, "ROLLOUT_TOKEN": SECRET,
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    env.pop("HW_AUTH_TOKEN", None)
    with serve_emulator(emu) as url:
        child = subprocess.Popen(
            [sys.executable, str(TESTS / "rollout" / "killable.py"), str(path),
             str(tmp_path / "state"), url, "600"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            assert child.stderr is not None
            for line in child.stderr:  # progress lines: wait for the soak to begin
                if "wave canary: soaking" in line or time.monotonic() > deadline:
                    break
            time.sleep(0.3)
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=10)
            if child.stderr is not None:
                child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert live_versions(emu)["r-canary"] == ("1.3.68", "running")
    assert [k[0] for k in journal_kinds(store, "r-canary")] == ["wave-start"]
    assert live_versions(emu)["r-prod-1"][0] == "1.3.60"

    # Nothing left to change on the canary, yet it is soaked before prod starts.
    app = RecordingApp(emu)
    result, log = await run_rollout(app, store, path, waves(soak_s=0.3))
    assert result.ok, log
    canary = wave(result, "canary")
    assert canary.changed == ("r-canary",) and canary.soak is SoakOutcome.PASSED
    assert app.writes_to("r-canary") == []
    assert log.index("wave canary: soaking 1 add-on(s) on 1 cluster") < log.index(
        "wave prod: starting")
    assert journal_kinds(store, "r-canary")[-1] == ("gate", "canary", "passed")
