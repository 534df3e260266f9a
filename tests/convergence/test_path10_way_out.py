"""Issue 11, path 10, the ways out the errors name: `state mv` after a renamed
key and `state rm CLUSTER` after a cluster_id change, each ending converged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

from .conv_helpers import LEGACY_ID, PROD_ID, STAGING_ID, Cloud

pytestmark = pytest.mark.convergence


def _state(cloud: Cloud, *args: str) -> Result:
    """``reconciler state ARGS --state-dir DIR`` (no endpoint: it reads no cloud)."""
    return CliRunner().invoke(cli, ["state", *args, "--state-dir", str(cloud.state_dir)],
                              env=cloud.env, catch_exceptions=False)


def _cluster(name: str, cluster_id: str) -> str:
    return f"  {name}:\n    cluster_id: {cluster_id}\n    addons:\n      coredns: {{}}\n"


def test_state_mv_after_a_renamed_key_converges(cloud: Cloud) -> None:
    cloud.write(_cluster("demo-legacy", LEGACY_ID))
    assert cloud.apply().exit_code == 0
    cloud.write(_cluster("legacy", LEGACY_ID))
    plan = cloud.plan()
    assert plan.exit_code == 1, plan.output
    assert "reconciler state mv demo-legacy legacy" in plan.output, plan.output
    refused = cloud.apply()
    assert refused.exit_code == 1 and not (cloud.state_dir / "legacy.json").exists()

    moved = _state(cloud, "mv", "demo-legacy", "legacy")
    assert moved.exit_code == 0, moved.output
    listing = _state(cloud, "list")
    assert "legacy" in listing.output and LEGACY_ID in listing.output
    assert "demo-legacy" not in listing.output, listing.output
    plan = cloud.plan("--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert cloud.drift().exit_code == 0


def test_state_rm_after_a_cluster_id_change_converges(cloud: Cloud) -> None:
    cloud.write(_cluster("demo-prod", PROD_ID))
    assert cloud.apply().exit_code == 0
    cloud.write(_cluster("demo-prod", STAGING_ID))
    plan = cloud.plan()
    assert plan.exit_code == 1 and "reconciler state rm demo-prod" in plan.output, plan.output

    assert _state(cloud, "rm", "demo-prod").exit_code == 0
    assert cloud.apply().exit_code == 0
    assert cloud.state("demo-prod")["cluster_id"] == STAGING_ID
    assert cloud.plan("--detailed-exitcode").exit_code == 0
    assert cloud.drift().exit_code == 0


def test_managed_addon_no_longer_declared_in_every_plan_format(cloud: Cloud) -> None:
    """An add-on the state records but the file dropped reads the same in text,
    Markdown and JSON, and a saved plan keeps it."""
    two = "      coredns: {}\n      npd: {}\n"
    cloud.write(f"  demo-legacy:\n    cluster_id: {LEGACY_ID}\n    addons:\n{two}")
    assert cloud.apply().exit_code == 0
    cloud.write(_cluster("demo-legacy", LEGACY_ID))
    kept = "managed, no longer declared (kept; prune: true deletes it)"

    assert f"{kept}: npd" in cloud.plan().output
    markdown = cloud.plan("--format", "markdown").output
    assert "npd" in markdown and "no longer declared (kept; prune: true deletes it)" in markdown
    data = json.loads(cloud.plan("--format", "json").stdout)
    (cluster,) = data["clusters"]
    assert cluster["managed_undeclared"] == ["npd"] and "npd" not in cluster["unmanaged"]
    saved = cloud.tmp / "p.json"
    assert cloud.plan("--out", str(saved)).exit_code == 0
    assert json.loads(saved.read_text())["clusters"][0]["managed_undeclared"] == ["npd"]
