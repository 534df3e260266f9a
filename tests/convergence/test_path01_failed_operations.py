"""Issue 11, path 1: a failed install or upgrade must never read as converged."""

from __future__ import annotations

import re

import pytest

from .conv_helpers import LEGACY_ID, Cloud

pytestmark = pytest.mark.convergence

LEGACY = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      npd: {{}}
      nginx-ingress:
        version: {{version}}
"""

INSTALL_MESSAGE = "admission webhook nginx-ingress-admission is not ready"
UPGRADE_MESSAGE = "helm upgrade failed: timed out waiting for the condition"


def _legacy(version: str, extra: str = "") -> str:
    return LEGACY.replace("{version}", version) + extra


def test_install_failed_plans_repair_not_adopt(cloud: Cloud) -> None:
    """Path 1: nginx-ingress 3.0.8 on demo-legacy ends installFailed; the next plan
    must show a `repair` naming the status Reason and message (not `adopt … values
    already match`), exit 2 under --detailed-exitcode, and apply must not count it
    as adopted."""
    cloud.write(_legacy("3.0.8"))
    first = cloud.apply()
    assert first.exit_code == 1, first.output
    assert cloud.status(LEGACY_ID, "nginx-ingress") == "installFailed"

    plan = cloud.plan("--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    # The summary line always reads "0 to adopt": what must not appear is an
    # adopt of this add-on (as a row, a "values match" or a non-zero count).
    assert not re.search(r"nginx-ingress: adopt|values already match|[1-9]\d* to adopt",
                         plan.output), plan.output
    assert re.search(r"\brepair\b", plan.output), plan.output
    assert "installFailed" in plan.output or "InstallFailed" in plan.output, plan.output
    assert INSTALL_MESSAGE in plan.output, plan.output

    again = cloud.apply()
    # The apply summary always reads "0 adopted": it must not count one.
    assert not re.search(r"[1-9]\d* adopted", again.output), again.output
    assert again.exit_code != 0, again.output
    later = cloud.plan("--detailed-exitcode")
    assert later.exit_code == 2, later.output
    assert "No changes" not in later.output, later.output


def test_upgrade_failed_with_on_failure_fail_is_not_converged(cloud: Cloud) -> None:
    """Path 1: after upgradeFailed (on_failure: fail) plan and apply must not say
    "No changes" while the add-on is unhealthy, --detailed-exitcode exits 2, and
    the state must not claim the new version was applied."""
    cloud.write(_legacy("2.6.5"))
    first = cloud.apply()
    assert first.exit_code == 0, first.output
    cloud.write(_legacy("3.0.8", "        on_failure: fail\n"))
    failed = cloud.apply()
    assert failed.exit_code == 1, failed.output
    assert cloud.status(LEGACY_ID, "nginx-ingress") == "upgradeFailed"

    plan = cloud.plan("--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "No changes" not in plan.output, plan.output
    assert re.search(r"\brepair\b", plan.output), plan.output
    assert UPGRADE_MESSAGE in plan.output, plan.output

    again = cloud.apply()
    assert "No changes" not in again.output and "Nothing to apply" not in again.output, \
        again.output
