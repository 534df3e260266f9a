"""Version constraints resolved per cluster (issue 14): ``latest``, ``~1.30``,
``>=x,<y``, the readiness target, stable preference and the no-match error.

The templates are the packaged demo scenario's, read the way a plan reads
them: the emulator's wire form parsed by the cloud layer. Its autoscaler has
one version per Kubernetes minor, so one ``latest`` serves a mixed fleet.
"""

from __future__ import annotations

import pytest
from engine_builders import PROJECT_ID, coredns_template, instance, live, spec

from reconciler.cloud.wire import parse_template
from reconciler.emulator import demo_scenario_path, load_scenario
from reconciler.emulator import wire as emulator_wire
from reconciler.engine import plan_changes
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState, UpgradeReadiness
from reconciler.model.live import AddonTemplate, LiveCluster
from reconciler.model.plan import Action, Change, ClusterPlan, Plan


@pytest.fixture(scope="module")
def demo_templates() -> dict[str, AddonTemplate]:
    scenario = load_scenario(demo_scenario_path())
    return {t.name: parse_template(emulator_wire.template(t)) for t in scenario.templates}


def fleet(*clusters: tuple[str, str], addon: AddonSpec,
          readiness: str | None = None) -> tuple[DesiredState, dict[str, LiveCluster]]:
    """One declaration of ``addon`` on clusters (name, Kubernetes version), none installed."""
    specs = tuple(
        ClusterSpec(name=name, cluster_id=f"id-{name}", region="ap-southeast-1",
                    project_id=PROJECT_ID, endpoint="emulator://demo", addons=(addon,),
                    upgrade_readiness=UpgradeReadiness(readiness) if readiness else None)
        for name, _ in clusters)
    lives = {name: live(k8s=k8s) for name, k8s in clusters}
    return DesiredState(clusters=specs, files=("fleet.yaml",), digest="d" * 64), lives


def plan_fleet(templates: dict[str, AddonTemplate], *clusters: tuple[str, str],
               addon: AddonSpec, readiness: str | None = None,
               lives: dict[str, LiveCluster] | None = None) -> Plan:
    wanted, default_lives = fleet(*clusters, addon=addon, readiness=readiness)
    return plan_changes(wanted, lives or default_lives, templates,  # type: ignore[arg-type]
                        {name: None for name, _ in clusters}, plan_id="p", tool_version="t")


def only_change(plan: Plan, cluster: str) -> Change:
    (found,) = next(c for c in plan.clusters if c.name == cluster).changes
    return found


def cluster_of(plan: Plan, name: str) -> ClusterPlan:
    return next(c for c in plan.clusters if c.name == name)


def autoscaler(constraint: str, **fields: object) -> AddonSpec:
    return spec("autoscaler", version_constraint=constraint,
                values={"custom": {"cluster_id": "c", "tenant_id": "t"}}, **fields)


def test_latest_resolves_per_cluster_on_a_mixed_fleet(
        demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("legacy", "v1.28.3-r0"), ("staging", "v1.30.1-r0"),
                      addon=autoscaler("latest"))
    assert not plan.has_errors
    legacy, staging = only_change(plan, "legacy"), only_change(plan, "staging")
    assert (legacy.action, legacy.after_version) == (Action.INSTALL, "1.28.35")
    assert (staging.action, staging.after_version) == (Action.INSTALL, "1.30.15")
    assert legacy.version_constraint == staging.version_constraint == "latest"


def test_tilde_picks_the_newest_of_that_minor(demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("staging", "v1.30"),
                      addon=spec("coredns", version_constraint="~1.29"))
    change = only_change(plan, "staging")
    assert (change.after_version, change.version_constraint) == ("1.29.4", "~1.29")


def test_range_excludes_its_upper_bound(demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("prod", "v1.29"),
                      addon=spec("metrics-server", version_constraint=">=1.3.39,<1.3.68"))
    assert only_change(plan, "prod").after_version == "1.3.60"


def test_readiness_target_filters_out_versions_it_does_not_support(
        demo_templates: dict[str, AddonTemplate]) -> None:
    # metrics-server 1.3.68 is the newest on v1.29 but supports v1.29-v1.31 only:
    # with a readiness target it does not support (v1.28), 1.3.60 is chosen.
    alone = plan_fleet(demo_templates, ("prod", "v1.29"),
                       addon=spec("metrics-server", version_constraint="latest"))
    assert only_change(alone, "prod").after_version == "1.3.68"
    targeted = plan_fleet(demo_templates, ("prod", "v1.29"),
                          addon=spec("metrics-server", version_constraint="latest"),
                          readiness="v1.28")
    change = only_change(targeted, "prod")
    assert change.after_version == "1.3.60"
    readiness = cluster_of(targeted, "prod").readiness
    assert readiness is not None and readiness.unsupported_addons == ()


def test_no_satisfying_version_is_an_error_naming_everything(
        demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("legacy", "v1.28.3-r0"), ("staging", "v1.30.1-r0"),
                      addon=autoscaler("~1.30"))
    assert only_change(plan, "staging").after_version == "1.30.15"
    legacy = cluster_of(plan, "legacy")
    assert legacy.changes == ()
    (error,) = legacy.errors
    assert error.key_path == "clusters.legacy.addons.autoscaler.version"
    for part in ("legacy", "autoscaler", "`~1.30`", "v1.28.3-r0"):
        assert part in error.message
    assert "versions that support this cluster" in error.hint
    assert "1.28.35" in error.hint and "1.31.7" in error.hint


def test_readiness_target_nothing_supports_is_an_error_naming_it(
        demo_templates: dict[str, AddonTemplate]) -> None:
    # No autoscaler version supports both v1.29 and v1.30: one per minor.
    plan = plan_fleet(demo_templates, ("prod", "v1.29"), addon=autoscaler("latest"),
                      readiness="v1.30")
    (error,) = cluster_of(plan, "prod").errors
    assert "upgrade_readiness target v1.30" in error.message


def test_live_satisfying_but_older_is_upgraded_to_the_newest(
        demo_templates: dict[str, AddonTemplate]) -> None:
    lives = {"prod": live(instance("metrics-server", "1.3.60", {}), k8s="v1.29")}
    plan = plan_fleet(demo_templates, ("prod", "v1.29"),
                      addon=spec("metrics-server", version_constraint=">=1.3.39"), lives=lives)
    change = only_change(plan, "prod")
    assert (change.action, change.before_version, change.after_version) == (
        Action.UPGRADE, "1.3.60", "1.3.68")
    assert "(from >=1.3.39)" in change.reason


def test_live_at_the_resolved_version_is_a_noop_carrying_the_constraint(
        demo_templates: dict[str, AddonTemplate]) -> None:
    first = plan_fleet(demo_templates, ("prod", "v1.29"),
                       addon=spec("metrics-server", version_constraint="latest"))
    installed = only_change(first, "prod")
    lives = {"prod": live(instance("metrics-server", "1.3.68", dict(installed.values)),
                          k8s="v1.29")}
    again = plan_fleet(demo_templates, ("prod", "v1.29"),
                       addon=spec("metrics-server", version_constraint="latest"), lives=lives)
    change = only_change(again, "prod")
    assert change.action is Action.ADOPT  # no state file yet: taken under management
    assert change.version_constraint == "latest"


def test_a_constraint_below_live_follows_the_downgrade_rule(
        demo_templates: dict[str, AddonTemplate]) -> None:
    lives = {"prod": live(instance("metrics-server", "1.3.68", {}), k8s="v1.29")}
    refused = plan_fleet(demo_templates, ("prod", "v1.29"),
                         addon=spec("metrics-server", version_constraint="<1.3.68"), lives=lives)
    assert only_change(refused, "prod").action is Action.DOWNGRADE
    (error,) = cluster_of(refused, "prod").errors
    assert "allow_downgrade" in error.hint
    allowed = plan_fleet(demo_templates, ("prod", "v1.29"),
                         addon=spec("metrics-server", version_constraint="<1.3.68",
                                    allow_downgrade=True), lives=lives)
    assert not allowed.has_errors
    assert only_change(allowed, "prod").after_version == "1.3.60"


def test_stable_wins_and_a_pre_release_only_when_named_exactly() -> None:
    # coredns 1.31.0 is a pre-release supporting v1.29-v1.32 (engine_builders).
    templates = {"coredns": coredns_template()}
    latest = plan_fleet(templates, ("new", "v1.29"),
                        addon=spec("coredns", version_constraint="latest"))
    assert only_change(latest, "new").after_version == "1.30.33"
    named = plan_fleet(templates, ("new", "v1.29"),
                       addon=spec("coredns", version_constraint="==1.31.0"))
    assert only_change(named, "new").after_version == "1.31.0"
    # On v1.32 only the pre-release fits: not taken unnamed, and the hint says so.
    only_beta = plan_fleet(templates, ("newest", "v1.32"),
                           addon=spec("coredns", version_constraint="latest"))
    (error,) = cluster_of(only_beta, "newest").errors
    assert "only pre-release versions fit (1.31.0)" in error.hint


def test_a_pinned_version_carries_no_constraint(
        demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("prod", "v1.29"),
                      addon=spec("metrics-server", version="1.3.60"))
    assert only_change(plan, "prod").version_constraint == ""


def test_an_unparsable_constraint_is_an_error_not_a_crash(
        demo_templates: dict[str, AddonTemplate]) -> None:
    plan = plan_fleet(demo_templates, ("prod", "v1.29"),
                      addon=spec("metrics-server", version_constraint=">=banana"))
    (error,) = cluster_of(plan, "prod").errors
    assert error.key_path.endswith("metrics-server.version")

