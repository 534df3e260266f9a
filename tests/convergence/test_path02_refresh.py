"""Issue 11, path 2: drift that nothing can clear. When live equals desired but the
state lags, plan must offer a state-only `refresh`, apply must record it, and
drift must be clean afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conv_helpers import LEGACY_ID, Cloud, serve_cloud

pytestmark = pytest.mark.convergence

NPD = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      npd: {{}}
"""


def _console_edit_npd(cloud: Cloud) -> None:
    """A console user changes a key the file does not declare."""
    npd = cloud.instance(LEGACY_ID, "npd")
    values = dict(npd.values)
    values["custom"] = {**values["custom"], "npc": {"maxTaintedNode": "25%"}}
    cloud.api(lambda c: c.update(npd.uid, LEGACY_ID, "npd", npd.version, values,
                                 upgrade=False))
    time.sleep(0.1)  # 20 emulated seconds: the update has finished
    assert cloud.status(LEGACY_ID, "npd") == "running"


def test_console_edit_of_undeclared_key_is_refreshed_into_state(cloud: Cloud) -> None:
    """Path 2: after a console edit of npd custom.npc.maxTaintedNode (a key the file
    doesn't declare) plan must show a state-only `refresh`, apply must record it,
    and the next drift must be clean (today drift exits 2 forever)."""
    cloud.write(NPD)
    assert cloud.apply().exit_code == 0
    _console_edit_npd(cloud)
    assert cloud.drift().exit_code == 2

    plan = cloud.plan("--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert re.search(r"npd: refresh\b", plan.output), plan.output

    puts_before = len(cloud.puts())
    applied = cloud.apply()
    assert applied.exit_code == 0, applied.output
    assert len(cloud.puts()) == puts_before, "a refresh writes the state only"
    assert cloud.state("demo-legacy")["addons"]["npd"]["values"]["custom"]["npc"] == {
        "maxTaintedNode": "25%"}

    drift = cloud.drift()
    assert drift.exit_code == 0, drift.output


def test_refresh_only_flags_exist_and_clear_drift(cloud: Cloud) -> None:
    """Path 2: `plan --refresh-only` and `apply --refresh-only` exist; the latter
    records live into state without writing to the cloud, after which drift is clean."""
    cloud.write(NPD)
    assert cloud.apply().exit_code == 0
    _console_edit_npd(cloud)

    plan = cloud.plan("--refresh-only")
    assert plan.exit_code == 0, plan.output
    assert "refresh" in plan.output, plan.output
    puts_before = len(cloud.puts())
    applied = cloud.apply("--refresh-only")
    assert applied.exit_code == 0, applied.output
    assert len(cloud.puts()) == puts_before
    drift = cloud.drift()
    assert drift.exit_code == 0, drift.output


def test_apply_interrupted_after_its_write_is_refreshed(tmp_path: Path) -> None:
    """Path 2: an apply killed after its PUT was sent leaves live == desired but the
    state behind; the next plan must show a `refresh` (not "No changes"), apply
    records it, and drift is clean afterwards."""
    with serve_cloud(tmp_path, time_scale=20) as cloud:  # an update takes 1 s
        cloud.write(NPD)
        assert cloud.apply().exit_code == 0
        cloud.write(NPD.replace("npd: {}", "npd:\n        values:\n"
                                "          custom:\n            multiAZEnabled: true"))
        env = {**os.environ, **cloud.env}
        victim = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", str(cloud.path), "--auto-approve",
             "--endpoint", cloud.url, "--state-dir", str(cloud.state_dir),
             "--poll-interval", "0.05"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not any(s == 200 for _, _, s in cloud.puts()) and time.monotonic() < deadline:
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert cloud.puts(), "the victim never sent its write"
        time.sleep(1.2)  # the update it sent finishes
        assert cloud.status(LEGACY_ID, "npd") == "running"
        assert cloud.instance(LEGACY_ID, "npd").values["custom"]["multiAZEnabled"] is True

        plan = cloud.plan("--detailed-exitcode")
        assert plan.exit_code == 2, plan.output
        assert re.search(r"npd: refresh\b", plan.output), plan.output
        applied = cloud.apply()
        assert applied.exit_code == 0, applied.output
        drift = cloud.drift()
        assert drift.exit_code == 0, drift.output
