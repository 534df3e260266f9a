"""A run killed with SIGKILL at any moment loses nothing: the next run finds
what the dead one did, converges, and never installs an add-on twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import serve_emulator

from reconciler.statemgr import Journal
from reconciler.statemgr.local import LocalBackend

from .apply_helpers import MAIN_ID, DesiredFiles, new_emulator

pytestmark = pytest.mark.slow

DESIRED = {
    "coredns": {"version": "1.30.33", "precheck": {"accept": ["K8sResourceModified"]}},
    "metrics-server": {"version": "1.3.68"},
    "npd": {"values": {"custom": {"multiAZEnabled": True}}},
    "volcano": {"version": "1.15.8"},
    "autoscaler": {"values": {"custom": {"maxNodesTotal": 50}}},
}


def _apply_cmd(url: str, path: Path, state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "reconciler", "apply", str(path), "--auto-approve",
            "--endpoint", url, "--state-dir", str(state_dir), "--poll-interval", "0.05"]


@pytest.mark.parametrize(
    ("journal_lines", "then_wait_s"),
    [(0, 0.0), (2, 0.0), (2, 0.1), (3, 0.05), (4, 0.15), (6, 0.0)],
    ids=["holding-lock", "after-prechecks", "mid-upgrade", "after-first-write",
         "mid-adopt-or-install", "late"],
)
def test_sigkill_then_rerun_converges(
    journal_lines: int, then_wait_s: float, tmp_path: Path
, desired: DesiredFiles) -> None:
    emu = new_emulator(time_scale=20)
    env = {**os.environ, "HW_ACCESS_KEY": emu.account.access_key,
           "HW_SECRET_KEY": emu.account.secret_key}
    state_dir = tmp_path / "state"
    path = desired(DESIRED)
    journal = Journal(state_dir, "t-main")
    with serve_emulator(emu) as url:
        victim = subprocess.Popen(_apply_cmd(url, path, state_dir), env=env, cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        # Kill once the journal has reached the chosen point (0: as soon as it
        # holds the lock, before anything is written), and a moment later.
        lock_info = state_dir / "t-main.lock.info"
        while time.monotonic() < deadline and victim.poll() is None:
            lines = len(journal.read()) if journal.path.exists() else 0
            if lines >= journal_lines and (journal_lines or lock_info.exists()):
                break
            time.sleep(0.005)
        time.sleep(then_wait_s)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        # Let operations the dead run started finish in emulated time.
        time.sleep(0.4)

        rerun = subprocess.run(_apply_cmd(url, path, state_dir), env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr

        instances = emu.store.list_instances(MAIN_ID, time.time())
        templates = [i.template for i in instances]
        assert sorted(templates) == sorted(set(templates)), "an add-on was installed twice"
        assert set(templates) == {"coredns", "metrics-server", "npd", "volcano", "autoscaler"}
        assert all(i.status == "running" for i in instances)
        state = LocalBackend(state_dir).read("t-main")
        assert state is not None
        assert {n: (a.uid, a.version) for n, a in state.addons.items()} == {
            i.template: (i.id, i.version) for i in instances
        }
        # And a third run has nothing left to do.
        third = subprocess.run(
            [sys.executable, "-m", "reconciler", "plan", str(path), "--endpoint", url,
             "--state-dir", str(state_dir), "--detailed-exitcode"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert third.returncode == 0, third.stdout + third.stderr
