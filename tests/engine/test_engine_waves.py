"""Labels and rollout waves carried into the plan (issue 14): each cluster's
``labels`` and the wave it falls in, and the plan's waves for apply to follow."""

from __future__ import annotations

from dataclasses import replace

from engine_builders import cluster_spec, desired, live, spec, templates

from reconciler.engine import cluster_waves, plan_changes
from reconciler.model.plan import Plan
from reconciler.model.rollout import PauseMode, Rollout, Wave

ROLLOUT = Rollout(waves=(
    Wave(name="canary", clusters=("demo-staging",), soak_s=600.0),
    Wave(name="prod", clusters=("env=prod",), max_parallel=5, max_failures=1),
    Wave(name="rest"),
), pause=PauseMode.MANUAL)

FLEET = (
    cluster_spec(spec("coredns"), name="demo-staging", labels={"env": "staging"}),
    cluster_spec(spec("coredns"), name="prod-eu", labels={"env": "prod", "region": "eu"}),
    cluster_spec(spec("coredns"), name="dev-1"),
)


def plan_of(rollout: Rollout | None) -> Plan:
    wanted = replace(desired(*FLEET), rollout=rollout)
    return plan_changes(wanted, {c.name: live() for c in FLEET}, templates(),
                        {c.name: None for c in FLEET}, plan_id="p", tool_version="t")


def test_each_cluster_gets_its_labels_and_wave_and_the_plan_the_waves() -> None:
    plan = plan_of(ROLLOUT)
    assert plan.rollout == ROLLOUT
    assert {c.name: c.wave for c in plan.clusters} == {
        "demo-staging": "canary", "prod-eu": "prod", "dev-1": "rest"}
    assert {c.name: dict(c.labels) for c in plan.clusters} == {
        "demo-staging": {"env": "staging"}, "prod-eu": {"env": "prod", "region": "eu"},
        "dev-1": {}}


def test_without_a_rollout_block_no_cluster_has_a_wave() -> None:
    plan = plan_of(None)
    assert plan.rollout is None
    assert [c.wave for c in plan.clusters] == ["", "", ""]
    assert dict(plan.clusters[1].labels) == {"env": "prod", "region": "eu"}


def test_waves_are_assigned_over_the_selected_clusters_only() -> None:
    # --cluster prod-eu: the selection is made before planning; the waves stay whole.
    wanted = replace(desired(FLEET[1]), rollout=ROLLOUT)
    assert cluster_waves(wanted) == {"prod-eu": "prod"}
