"""Issue 11, path 10: a state file is bound to a cluster's id, not only its name."""

from __future__ import annotations

import re

import pytest

from .conv_helpers import LEGACY_ID, PROD_ID, STAGING_ID, Cloud

pytestmark = pytest.mark.convergence


def _cluster(name: str, cluster_id: str, addons: str = "      coredns: {}\n") -> str:
    return f"  {name}:\n    cluster_id: {cluster_id}\n    addons:\n{addons}"


def test_cluster_id_change_under_the_same_name_is_refused(cloud: Cloud) -> None:
    """Path 10: pointing demo-prod at another cluster_id must not proceed against
    the old state: plan and apply exit 1 naming both ids, and write nothing."""
    cloud.write(_cluster("demo-prod", PROD_ID))
    assert cloud.apply().exit_code == 0
    before = (cloud.state_dir / "demo-prod.json").read_bytes()

    cloud.write(_cluster("demo-prod", STAGING_ID))
    plan = cloud.plan()
    assert plan.exit_code == 1, plan.output
    assert PROD_ID in plan.output and STAGING_ID in plan.output, plan.output
    writes = len([r for r in cloud.requests if r[0] not in ("GET", "HEAD")])
    applied = cloud.apply()
    assert applied.exit_code == 1, applied.output
    assert PROD_ID in applied.output and STAGING_ID in applied.output, applied.output
    assert len([r for r in cloud.requests if r[0] not in ("GET", "HEAD")]) == writes
    assert (cloud.state_dir / "demo-prod.json").read_bytes() == before


def test_renamed_cluster_key_suggests_state_mv(cloud: Cloud) -> None:
    """Path 10: renaming the key demo-legacy → legacy (same cluster_id) must not
    orphan its state: plan suggests `reconciler state mv demo-legacy legacy`."""
    cloud.write(_cluster("demo-legacy", LEGACY_ID))
    assert cloud.apply().exit_code == 0

    cloud.write(_cluster("legacy", LEGACY_ID))
    plan = cloud.plan()
    assert "reconciler state mv demo-legacy legacy" in plan.output, plan.output


def test_managed_addon_no_longer_declared_is_not_called_unmanaged(cloud: Cloud) -> None:
    """Path 10: an add-on in state but dropped from the file is managed, not
    "unmanaged (left alone)": the plan says it is kept and that prune: true
    would delete it."""
    cloud.write(_cluster("demo-legacy", LEGACY_ID, "      coredns: {}\n      npd: {}\n"))
    assert cloud.apply().exit_code == 0
    cloud.write(_cluster("demo-legacy", LEGACY_ID))
    plan = cloud.plan()
    assert plan.exit_code == 0, plan.output
    assert not re.search(r"unmanaged \(left alone\):.*\bnpd\b", plan.output), plan.output
    assert re.search(r"no longer declared", plan.output), plan.output
    assert "prune: true" in plan.output, plan.output
