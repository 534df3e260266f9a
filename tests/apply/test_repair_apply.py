"""Apply executes a repair (issue 11, path 1): PUT, wait, record only when healthy.

Against the demo emulator on a socket, through the real CLI: nginx-ingress 3.0.*
fails on demo-legacy (a scenario failure rule), so an upgrade to 3.0.8 ends
upgradeFailed; going back to 2.6.5 in the file is a repair, not a downgrade.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.convergence.conv_helpers import LEGACY_ID, serve_cloud

LEGACY = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      npd: {{}}
      nginx-ingress:
        version: VERSION
"""


def test_repair_back_to_the_previous_version_runs_and_converges(tmp_path: Path) -> None:
    with serve_cloud(tmp_path) as cloud:
        cloud.write(LEGACY.replace("VERSION", "2.6.5"))
        assert cloud.apply().exit_code == 0
        cloud.write(LEGACY.replace("VERSION", "3.0.8"))
        assert cloud.apply().exit_code == 1
        assert cloud.status(LEGACY_ID, "nginx-ingress") == "upgradeFailed"
        assert cloud.state("demo-legacy")["addons"]["nginx-ingress"]["version"] == "2.6.5"

        cloud.write(LEGACY.replace("VERSION", "2.6.5"))
        plan = cloud.plan("--detailed-exitcode")
        assert plan.exit_code == 2, plan.output
        assert "! nginx-ingress: repair 3.0.8 → 2.6.5" in plan.output, plan.output
        assert "downgrade" not in plan.output and "allow_downgrade" not in plan.output
        assert "1 to repair" in plan.output

        applied = cloud.apply()
        assert applied.exit_code == 0, applied.output
        assert re.search(r"\b1 repaired\b", applied.output), applied.output
        assert cloud.status(LEGACY_ID, "nginx-ingress") == "running"
        instance = cloud.instance(LEGACY_ID, "nginx-ingress")
        assert instance.version == "2.6.5"
        entry = cloud.state("demo-legacy")["addons"]["nginx-ingress"]
        assert entry["version"] == "2.6.5" and entry["uid"] == instance.uid

        after = cloud.plan("--detailed-exitcode")
        assert after.exit_code == 0, after.output
        assert "No changes" in after.output


def test_a_downgrade_without_opt_in_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with serve_cloud(tmp_path) as cloud:
        cloud.write(LEGACY.replace("VERSION", "2.6.5"))
        assert cloud.apply().exit_code == 0
        cloud.write(LEGACY.replace("VERSION", "2.2.82"))
        plan = cloud.plan("--detailed-exitcode")
        assert plan.exit_code == 1, plan.output
        assert "↓ nginx-ingress: downgrade 2.6.5 → 2.2.82" in plan.output, plan.output
        assert re.search(r"addons\.nginx-ingress\.version: .*below the live 2\.6\.5"
                         r".*allow_downgrade: true", plan.output), plan.output
        assert len(cloud.puts()) == 0
