"""Planner behaviour the table-driven cases can't reach through a desired-state
file (the config layer rejects those inputs first) or don't show in their
projection: full values of a change, salts, ordering rules, fingerprints."""

from __future__ import annotations

from dataclasses import replace

from engine_builders import (
    autoscaler_template,
    cluster_spec,
    coredns_template,
    coredns_values,
    desired,
    instance,
    live,
    spec,
    templates,
)
from engine_builders import cluster as live_cluster

from reconciler.engine import fingerprint_instances, plan_changes
from reconciler.engine.checks import (
    dependency_problems,
    find_cycle,
    install_problem,
    version_key,
)
from reconciler.engine.order import apply_order
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, Cluster, InstanceStatus
from reconciler.model.plan import Action, Change, ClusterPlan, Plan
from reconciler.model.sensitive import sensitive_hash
from reconciler.model.state import ManagedAddon, StateFile


def state(**versions: str) -> StateFile:
    return StateFile(lineage="lin", serial=3, cluster_name="prod-eu", cluster_id="c", salt="st",
                     addons={n: ManagedAddon(name=n, uid=f"uid-{n}", version=v, values={},
                                             values_digest="", applied_at="")
                             for n, v in versions.items()})


def recorded(st: StateFile, name: str, values: dict[str, object]) -> StateFile:
    """``st`` with ``name``'s last applied values set (the state agrees with them)."""
    return replace(st, addons={**st.addons, name: replace(st.addons[name], values=values)})


def plan_one(*addons: object, instances: tuple[object, ...] = (), st: StateFile | None = None,
             catalog: dict[str, AddonTemplate] | None = None, k8s: str = "v1.28.3-r0",
             **cluster_fields: object) -> ClusterPlan:
    wanted = desired(cluster_spec(*addons, **cluster_fields))  # type: ignore[arg-type]
    plan = plan_changes(wanted, {"prod-eu": live(*instances, k8s=k8s)},  # type: ignore[arg-type]
                        catalog or templates(), {"prod-eu": st}, plan_id="p", tool_version="t")
    (cluster,) = plan.clusters
    return cluster


def change(cluster: ClusterPlan, name: str) -> Change:
    return next(c for c in cluster.changes if c.addon == name)


def test_upgrade_sends_full_values_keeping_console_edits() -> None:
    live_values = coredns_values(cache_ttl=300)
    cluster = plan_one(spec("coredns", version="1.30.33"),
                       instances=(instance("coredns", "1.29.4", live_values),),
                       st=state(coredns="1.29.4"))
    upgrade = change(cluster, "coredns")
    assert upgrade.action is Action.UPGRADE
    assert upgrade.values == live_values  # every key sent, the edited one kept
    assert upgrade.provenance["custom.cache_ttl"] == "live"
    assert upgrade.field_changes == ()
    assert (cluster.state_lineage, cluster.state_serial) == ("lin", 3)


def test_noop_changes_carry_no_values() -> None:
    cluster = plan_one(spec("coredns", version="1.30.33"),
                       instances=(instance("coredns", "1.30.33", coredns_values()),),
                       st=recorded(state(coredns="1.30.33"), "coredns", coredns_values()))
    noop = change(cluster, "coredns")
    assert noop.action is Action.NOOP and noop.values == {} and not cluster.has_changes


def test_secret_values_live_only_in_change_values() -> None:
    addon = spec("autoscaler", version="1.29.17",
                 values={"custom": {"password": "hunter2-new"}},
                 secret_sources={"custom.password": ("AUTOSCALER_TOKEN",)})
    old = {"basic": {"region": "ap-southeast-1"}, "custom": {"password": "hunter2-old"}}
    cluster = plan_one(addon, instances=(instance("autoscaler", "1.29.17", old),),
                       st=state(autoscaler="1.29.17"))
    update = change(cluster, "autoscaler")
    assert update.values["custom"]["password"] == "hunter2-new"
    assert update.sensitive_paths >= {"custom.password"}
    assert update.secret_sources == {"custom.password": ("AUTOSCALER_TOKEN",)}
    (secret,) = [f for f in update.field_changes if f.path == "custom.password"]
    assert secret.sensitive and secret.after == sensitive_hash("hunter2-new", "st")
    assert "hunter2" not in repr(replace(update, values={}))


def test_salts_argument_wins_over_the_state_salt() -> None:
    addon = spec("autoscaler", version="1.29.17", values={"custom": {"password": "x"}})
    wanted = desired(cluster_spec(addon))
    plan = plan_changes(wanted, {"prod-eu": live()}, templates(), {"prod-eu": state()},
                        plan_id="p", tool_version="t", salts={"prod-eu": "fresh"})
    install = plan.clusters[0].changes[0]
    (secret,) = [f for f in install.field_changes if f.path == "custom.password"]
    assert secret.after == sensitive_hash("x", "fresh")


def test_dependency_problems_are_reported_with_the_cycle() -> None:
    cluster = cluster_spec(
        spec("a", depends_on=("b",)), spec("b", depends_on=("c",)), spec("c", depends_on=("a",)),
        spec("d", depends_on=("d", "zz", "e")), spec("e", state="absent"))
    messages = [d.message for d in dependency_problems(cluster)]
    assert "`d` depends on itself" in messages
    assert "`d` depends on `zz`, which this cluster does not declare" in messages
    assert "`d` depends on `e`, which is declared state: absent" in messages
    assert "depends_on has a cycle: a → b → c → a" in messages


def test_find_cycle_none_for_a_dag() -> None:
    assert find_cycle({"a": ("b", "c"), "b": ("c",), "c": ()}) == []


def test_cyclic_plan_still_orders_every_change_and_reports_the_error() -> None:
    cluster = plan_one(spec("coredns", version="1.30.33", depends_on=("autoscaler",)),
                       spec("autoscaler", version="1.29.17", depends_on=("coredns",)),
                       st=state())
    assert [c.addon for c in cluster.changes] == ["coredns", "autoscaler"]  # file order
    assert any("cycle" in d.message for d in cluster.errors)


def test_apply_order_deletes_dependents_first_then_installs_dependencies_first() -> None:
    changes = [
        Change("web", Action.INSTALL, depends_on=("db",)),
        Change("db", Action.INSTALL),
        Change("old-db", Action.DELETE),
        Change("old-web", Action.DELETE, depends_on=("old-db",)),
        Change("pruned", Action.DELETE),
        Change("cache", Action.NOOP),
    ]
    index = {"web": 0, "db": 1, "old-db": 2, "old-web": 3, "cache": 4}
    assert [c.addon for c in apply_order(changes, index)] == [
        "old-web", "old-db", "pruned", "db", "web", "cache"]


def test_fingerprint_ignores_listing_order_but_not_content() -> None:
    a = instance("coredns", "1.30.33", coredns_values())
    b = instance("npd", "1.19.1", {"custom": {}})
    assert fingerprint_instances([a, b]) == fingerprint_instances([b, a])
    changed = replace(a, values=coredns_values(cache_ttl=31))
    unhealthy = replace(a, status=InstanceStatus(status="abnormal"))
    upgraded = replace(a, version="1.31.0")
    prints = {fingerprint_instances(x) for x in ([a, b], [changed, b], [unhealthy, b],
                                                 [upgraded, b], [a])}
    assert len(prints) == 5


def test_unreadable_cluster_keeps_a_located_diagnostic_and_plans_nothing() -> None:
    problem = Diagnostic("endpoint", 0, 0, "clusters.prod-eu", "HTTP 401: bad credentials")
    wanted = desired(cluster_spec(spec("coredns")))
    plan = plan_changes(wanted, {"prod-eu": problem}, templates(), {}, plan_id="p",
                        tool_version="t")
    assert plan.clusters[0].errors == (problem,) and plan.clusters[0].changes == ()
    missing = plan_changes(wanted, {}, templates(), {}, plan_id="p", tool_version="t")
    assert "was not read" in missing.clusters[0].errors[0].message
    assert missing.has_errors


def test_absent_addon_already_deleting_is_a_noop() -> None:
    cluster = plan_one(spec("coredns", state="absent"),
                       instances=(instance("coredns", "1.30.33", {}, status="deleting"),),
                       st=state(coredns="1.30.33"))
    assert change(cluster, "coredns").action is Action.NOOP and not cluster.errors


def test_prune_skips_instances_already_deleting_and_refuses_busy_ones() -> None:
    cluster = plan_one(spec("coredns", version="1.30.33"), prune=True,
                       instances=(instance("coredns", "1.30.33", coredns_values()),
                                  instance("npd", "1.19.1", {}, status="deleting"),
                                  instance("autoscaler", "1.29.17", {}, status="upgrading")),
                       st=state(coredns="1.30.33"))
    assert [c.addon for c in cluster.changes] == ["coredns"]
    (error,) = cluster.errors
    assert "cannot delete `autoscaler` (prune: true)" in error.message


def test_live_version_dropped_from_catalog_plans_with_a_warning() -> None:
    cluster = plan_one(spec("coredns", values={"custom": {"cache_ttl": 31}}),
                       instances=(instance("coredns", "1.20.0", coredns_values()),),
                       st=state(coredns="1.20.0"))
    update = change(cluster, "coredns")
    assert update.action is Action.UPDATE and update.after_version == "1.20.0"
    assert [d.severity for d in cluster.errors] == ["warning"]
    assert "no longer in the template catalog" in cluster.errors[0].message


def test_same_version_is_not_rechecked_against_the_cluster() -> None:
    # The cluster moved on to v1.30; the running 1.29.4 no longer "supports" it,
    # but keeping it is not a new choice, so no error (an upgrade would be checked).
    cluster = plan_one(spec("coredns", version="1.29.4", values={"custom": {"cache_ttl": 1}}),
                       instances=(instance("coredns", "1.29.4", coredns_values()),),
                       st=state(coredns="1.29.4"), k8s="v1.30.1-r0")
    assert not cluster.errors
    assert change(cluster, "coredns").action is Action.UPDATE
    upgrade = plan_one(spec("coredns", version="1.29.4"),
                       instances=(instance("coredns", "1.30.33", coredns_values()),),
                       st=state(coredns="1.30.33"), k8s="v1.30.1-r0")
    assert "does not support this cluster" in upgrade.errors[0].message


def test_planning_is_pure_and_repeatable() -> None:
    live_values = coredns_values(cache_ttl="30")
    before = repr(live_values)
    catalog = {"coredns": coredns_template(), "autoscaler": autoscaler_template()}
    args = (spec("coredns", version="1.30.33", flavor="5000"),
            spec("autoscaler", version="1.29.17"))
    first = plan_one(*args, instances=(instance("coredns", "1.29.4", live_values),),
                     catalog=catalog)
    second = plan_one(*args, instances=(instance("coredns", "1.29.4", live_values),),
                      catalog=catalog)
    assert first == second
    assert repr(live_values) == before


def test_plan_carries_identity_and_counts() -> None:
    wanted = desired(cluster_spec(spec("coredns", version="1.30.33")))
    plan = plan_changes(wanted, {"prod-eu": live()}, templates(), {}, plan_id="plan-9",
                        tool_version="0.1.0")
    assert isinstance(plan, Plan)
    assert (plan.plan_id, plan.tool_version, plan.desired_digest, plan.files) == (
        "plan-9", "0.1.0", "d" * 64, ("prod.yaml",))
    assert plan.count(Action.INSTALL) == 1 and plan.has_changes
    assert plan.clusters[0].kubernetes_version == "v1.28.3-r0"
    assert plan.clusters[0].live_fingerprint == fingerprint_instances([])


def test_version_key_orders_numerically() -> None:
    ordered = sorted(["1.30.4", "1.30.33", "1.9.0", "1.30.33-r1"], key=version_key)
    assert ordered == ["1.9.0", "1.30.4", "1.30.33", "1.30.33-r1"]


def test_install_problem_rechecks_an_install_against_the_catalogue_of_now() -> None:
    # What apply re-runs before an install: the plan may be days old.
    catalogue = templates()

    def problem(name: str, version: str, cl: Cluster | None = None) -> str:
        change = Change(addon=name, action=Action.INSTALL, after_version=version)
        return install_problem(change, cl or live_cluster("v1.28.3-r0"), catalogue)

    assert problem("coredns", "1.29.4") == ""
    assert problem("coredns", "") == ""  # CCE picks the version: nothing to recheck
    assert problem("gone", "1.0") == "the template gone no longer exists"
    assert problem("coredns", "9.9.9") == "version 9.9.9 of coredns no longer exists"
    k8s_125 = live_cluster("v1.25.1-r0")
    assert problem("coredns", "1.30.33", k8s_125) == (
        "version 1.30.33 of coredns does not support this cluster"
        f" ({k8s_125.type}, {k8s_125.category}, Kubernetes v1.25.1-r0)"
    )


# --- issue 11, paths 2 and 5: state-only refresh, and adopts that write -------


def test_state_values_behind_live_plan_a_state_only_refresh() -> None:
    # A console edit of a key the file doesn't declare: desired == live, state lags.
    live_values = coredns_values(cache_ttl=300)
    cluster = plan_one(spec("coredns", version="1.30.33"),
                       instances=(instance("coredns", "1.30.33", live_values),),
                       st=recorded(state(coredns="1.30.33"), "coredns", coredns_values()))
    refresh = change(cluster, "coredns")
    assert refresh.action is Action.REFRESH and cluster.has_changes
    assert refresh.values == {}, "a refresh sends nothing, so it carries nothing to send"
    assert [(f.path, f.before, f.after) for f in refresh.field_changes] == [
        ("custom.cache_ttl", coredns_values()["custom"]["cache_ttl"], 300)]
    assert "nothing is sent" in refresh.reason


def test_state_version_behind_live_plans_a_refresh_with_both_versions() -> None:
    # An apply killed after its PUT: live runs what the file wants, state is older.
    cluster = plan_one(spec("coredns", version="1.30.33"),
                       instances=(instance("coredns", "1.30.33", coredns_values()),),
                       st=recorded(state(coredns="1.29.4"), "coredns", coredns_values()))
    refresh = change(cluster, "coredns")
    assert refresh.action is Action.REFRESH
    assert (refresh.before_version, refresh.after_version) == ("1.29.4", "1.30.33")


def test_lag_only_in_ignored_keys_or_on_a_busy_instance_is_no_refresh() -> None:
    # Drift ignores ignore_changes paths, so the refresh does too (else it never settles).
    ignored = plan_one(spec("coredns", version="1.30.33", ignore_changes=("custom.cache_ttl",)),
                       instances=(instance("coredns", "1.30.33", coredns_values(cache_ttl=9)),),
                       st=recorded(state(coredns="1.30.33"), "coredns", coredns_values()))
    assert change(ignored, "coredns").action is Action.NOOP
    busy = plan_one(spec("coredns", version="1.30.33"),
                    instances=(instance("coredns", "1.30.33", coredns_values(cache_ttl=9),
                                        status="upgrading"),),
                    st=recorded(state(coredns="1.30.33"), "coredns", coredns_values()))
    assert change(busy, "coredns").action is Action.NOOP


def test_an_adopt_that_writes_is_an_update_marked_adopting() -> None:
    cluster = plan_one(spec("coredns", version="1.30.33", values={"custom": {"cache_ttl": 31}}),
                       instances=(instance("coredns", "1.30.33", coredns_values()),),
                       st=state())
    update = change(cluster, "coredns")
    assert update.action is Action.UPDATE and update.adopting
    assert update.reason == "values differ; adopting: not in the state file"
    matching = plan_one(spec("coredns", version="1.30.33"),
                        instances=(instance("coredns", "1.30.33", coredns_values()),),
                        st=state())
    adopt = change(matching, "coredns")
    assert adopt.action is Action.ADOPT and adopt.adopting and not adopt.field_changes
    managed = plan_one(spec("coredns", version="1.30.33", values={"custom": {"cache_ttl": 31}}),
                       instances=(instance("coredns", "1.30.33", coredns_values()),),
                       st=recorded(state(coredns="1.30.33"), "coredns", coredns_values()))
    assert not change(managed, "coredns").adopting


def test_a_planned_change_holds_its_own_lists_not_the_templates_or_lives() -> None:
    """The merge leaves lists shared until the planner keeps a result
    (engine/values.py detach=False): a kept change must own them, or a later
    edit of its values (apply resolves secrets into them) would rewrite the
    template catalog or the live tree every other cluster shares."""
    catalog = templates()
    live_values = coredns_values(cache_ttl=60)
    cluster = plan_one(spec("coredns", version="1.30.33", values={"custom": {"cache_ttl": 30}}),
                       instances=(instance("coredns", "1.30.33", live_values),),
                       st=state(coredns="1.30.33"), catalog=catalog)
    update = change(cluster, "coredns")
    assert update.action is Action.UPDATE
    sent = update.values["flavor"]["resources"]
    template_input = catalog["coredns"].versions[1].input["parameters"]["flavor1"]
    assert sent == live_values["flavor"]["resources"]
    assert sent is not live_values["flavor"]["resources"]
    assert sent is not template_input["resources"]


def test_apply_order_without_dependencies_is_file_order_then_names() -> None:
    changes = [Change(addon=n, action=Action.INSTALL) for n in ("zeta", "b", "a", "c")]
    index = {"c": 0, "a": 1, "zeta": 2}
    assert [c.addon for c in apply_order(changes, index)] == ["c", "a", "zeta", "b"]
