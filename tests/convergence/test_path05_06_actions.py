"""Issue 11, paths 5 and 6: the plan's action words must say what apply will do:
an adopt that writes counts as an update, a lower version is a `downgrade`."""

from __future__ import annotations

import re

import pytest

from .conv_helpers import LEGACY_ID, PROD_ID, Cloud

pytestmark = pytest.mark.convergence

ADOPT_WITH_DIFF = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      npd:
        values:
          custom:
            multiAZEnabled: true
"""


def test_adopt_that_writes_counts_as_an_update(cloud: Cloud) -> None:
    """Path 5: adopting npd whose live values differ sends a PUT, so the summary
    must count it as "1 to update (1 adopting)" and apply's result as an update."""
    cloud.write(ADOPT_WITH_DIFF)
    plan = cloud.plan()
    assert plan.exit_code == 0, plan.output
    assert re.search(r"1 to update \(1 adopting\)", plan.output), plan.output

    applied = cloud.apply()
    assert applied.exit_code == 0, applied.output
    assert len([p for p in cloud.puts() if p[2] == 200]) == 1, "the adopt did write"
    assert re.search(r"\b1 updated\b", applied.output), applied.output
    assert not re.search(r"\b1 adopted\b", applied.output), applied.output


def _metrics(version: str, extra: str = "") -> str:
    return f"""  demo-prod:
    cluster_id: {PROD_ID}
    addons:
      metrics-server:
        version: {version}
{extra}"""


def test_lower_version_is_a_refused_downgrade(cloud: Cloud) -> None:
    """Path 6: declaring metrics-server 1.3.60 below the live 1.3.68 must plan as
    `downgrade` (not "upgrade 1.3.68 → 1.3.60") and apply must refuse it."""
    cloud.write(_metrics("1.3.68"))
    assert cloud.apply().exit_code == 0
    assert cloud.instance(PROD_ID, "metrics-server").version == "1.3.68"

    cloud.write(_metrics("1.3.60"))
    plan = cloud.plan()
    assert "upgrade 1.3.68" not in plan.output, plan.output
    assert re.search(r"metrics-server: downgrade\b", plan.output), plan.output

    refused = cloud.apply()
    assert refused.exit_code == 1, refused.output
    assert "allow_downgrade" in refused.output, refused.output
    assert cloud.instance(PROD_ID, "metrics-server").version == "1.3.68"


def test_downgrade_runs_with_allow_downgrade(cloud: Cloud) -> None:
    """Path 6: with `allow_downgrade: true` the downgrade is planned as such and runs."""
    cloud.write(_metrics("1.3.68"))
    assert cloud.apply().exit_code == 0
    cloud.write(_metrics("1.3.60", "        allow_downgrade: true\n"))
    plan = cloud.plan()
    assert plan.exit_code == 0, plan.output
    assert re.search(r"metrics-server: downgrade\b", plan.output), plan.output
    applied = cloud.apply()
    assert applied.exit_code == 0, applied.output
    assert cloud.instance(PROD_ID, "metrics-server").version == "1.3.60"
