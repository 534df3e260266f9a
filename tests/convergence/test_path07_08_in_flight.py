"""Issue 11, paths 7 and 8: a write whose outcome apply did not see (a lost
response, a crash) must be looked up, and an operation in flight waited for,
never re-sent blindly or reported as a failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conv_helpers import PROD_ID, serve_cloud

pytestmark = pytest.mark.convergence

UPGRADE = f"""  demo-prod:
    cluster_id: {PROD_ID}
    addons:
      metrics-server:
        version: 1.3.68
      autoscaler:
        depends_on: [metrics-server]
        values:
          custom:
            maxNodesTotal: 60
"""


def test_lost_put_response_is_looked_up_not_resent(tmp_path: Path) -> None:
    """Path 7: the response of the metrics-server upgrade PUT is lost (the emulator
    handled it). Apply must look before retrying and wait for the upgrade in
    flight: no second PUT answered "is upgrading" (400), no false "upgrade
    failed", the dependent autoscaler is applied, exit 0."""
    with serve_cloud(tmp_path, time_scale=20) as cloud:  # an upgrade takes 1 s
        cloud.write(UPGRADE)
        cloud.drop_puts = 1
        applied = cloud.apply()
        assert cloud.drop_puts == 0, "the fault never fired"
        metrics_puts = [p for p in cloud.puts() if "2b8f3d21" in p[1]]
        assert (metrics_puts[0][2]) == 0
        assert all(status != 400 for _, _, status in metrics_puts), (
            f"re-sent blindly: {metrics_puts}\n{applied.output}")
        # The summary always says "0 failed": look for a reported failure instead.
        assert "upgrade failed" not in applied.output and "Problems:" not in applied.output, (
            applied.output)
        assert applied.exit_code == 0, applied.output
        assert cloud.instance(PROD_ID, "metrics-server").version == "1.3.68"
        autoscaler = cloud.instance(PROD_ID, "autoscaler")
        assert autoscaler.values["custom"]["maxNodesTotal"] == 60, "the dependent was skipped"
        state = cloud.state("demo-prod")["addons"]
        assert state["metrics-server"]["version"] == "1.3.68"


@pytest.mark.slow
def test_rerun_after_sigkill_waits_for_the_operation_in_flight(tmp_path: Path) -> None:
    """Path 8: an apply SIGKILLed after its upgrade PUT was sent leaves the instance
    `upgrading`; the first re-apply must wait for that operation and converge
    (exit 0), not fail with "the live instance is upgrading (wait…, then plan again)"."""
    with serve_cloud(tmp_path, time_scale=10) as cloud:  # an upgrade takes 2 s
        cloud.write(UPGRADE)
        victim = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", str(cloud.path), "--auto-approve",
             "--endpoint", cloud.url, "--state-dir", str(cloud.state_dir),
             "--poll-interval", "0.05"],
            env={**os.environ, **cloud.env}, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not any(s == 200 for _, _, s in cloud.puts()) and time.monotonic() < deadline:
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert cloud.puts(), "the victim never sent its write"
        assert cloud.status(PROD_ID, "metrics-server") == "upgrading"

        rerun = cloud.apply()
        assert "then plan again" not in rerun.output, rerun.output
        assert rerun.exit_code == 0, rerun.output
        assert cloud.instance(PROD_ID, "metrics-server").version == "1.3.68"
        assert cloud.status(PROD_ID, "metrics-server") == "running"
        assert cloud.instance(PROD_ID, "autoscaler").values["custom"]["maxNodesTotal"] == 60
        assert cloud.plan("--detailed-exitcode").exit_code == 0
