"""The pure drift engine: sensitive leaves compare by salted hash and never
appear in the result; ignore_changes paths are not drift."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.engine.drift import changed_values, cluster_drift
from reconciler.engine.secrets import hash_at
from reconciler.model.desired import AddonSpec, ClusterSpec
from reconciler.model.drift import DriftKind
from reconciler.model.live import AddonInstance, Cluster, InstanceStatus, LiveCluster
from reconciler.model.sensitive import sensitive_hash
from reconciler.model.state import ManagedAddon, StateFile

SALT = "5a17"


def recorded(values: dict[str, Any], sensitive: tuple[str, ...] = ()) -> ManagedAddon:
    return ManagedAddon(name="autoscaler", uid="u-1", version="1.29.17",
                        values=hash_at(values, sensitive, SALT), values_digest="",
                        applied_at="2025-01-01T00:00:00Z", sensitive_paths=sensitive)


def instance(values: dict[str, Any], status: str = "running") -> AddonInstance:
    return AddonInstance(uid="u-1", name="autoscaler", cluster_id="c-1",
                         template_name="autoscaler", version="1.29.17", values=values,
                         status=InstanceStatus(status=status, reason="R", message="m"))


def test_same_secret_is_no_drift_and_a_changed_one_shows_no_value() -> None:
    state = recorded({"custom": {"password": "hunter2", "n": 1}}, ("custom.password",))
    assert state.values["custom"]["password"] == sensitive_hash("hunter2", SALT)
    assert changed_values(state, instance({"custom": {"password": "hunter2", "n": 1}}), None,
                          ignore=(), salt=SALT) == ()

    found = changed_values(state, instance({"custom": {"password": "letmein", "n": 1}}), None,
                           ignore=(), salt=SALT)
    assert [(c.path, c.sensitive, c.before, c.after) for c in found] == [
        ("custom.password", True, None, None)]
    assert "letmein" not in repr(found) and "hunter2" not in repr(found)


def test_ignored_paths_are_not_drift() -> None:
    state = recorded({"custom": {"replicas": 2, "n": 1}})
    live = instance({"custom": {"replicas": 5, "n": 1}})
    assert changed_values(state, live, None, ignore=("custom.replicas",), salt=SALT) == ()
    assert [c.path for c in changed_values(state, live, None, ignore=(), salt=SALT)] == [
        "custom.replicas"]


def test_cluster_drift_of_an_unhealthy_managed_addon() -> None:
    spec = ClusterSpec(name="prod", cluster_id="c-1", region="r", project_id="p",
                       endpoint="emulator://demo", addons=(AddonSpec(name="autoscaler"),))
    live = LiveCluster(cluster=Cluster(id="c-1", name="prod", version="v1.29",
                                       type="VirtualMachine", category="CCE", phase="Available"),
                       instances=(instance({"custom": {"n": 1}}, status="abnormal"),))
    state = StateFile(lineage="l", serial=1, cluster_name="prod", cluster_id="c-1", salt=SALT,
                      addons={"autoscaler": recorded({"custom": {"n": 1}})})
    found = cluster_drift(spec, live, {}, state, None)
    (addon,) = found.addons
    assert addon.kinds == (DriftKind.UNHEALTHY,)
    assert addon.healthy is False
    assert (addon.status, addon.status_reason, addon.status_message) == ("abnormal", "R", "m")
    assert found.drifted and not found.errors


def test_an_operation_in_flight_is_in_progress_and_its_held_change_not_an_error() -> None:
    """Issue 11, path 9: an upgrade in flight is `in-progress` (not `unhealthy`), and
    the plan's "cannot update: the live instance is upgrading" is a warning in drift
    (drift writes nothing), so the cluster is drifted, not an error."""
    from reconciler.engine import checks
    from reconciler.model.plan import ClusterPlan

    addon = AddonSpec(name="autoscaler")
    spec = ClusterSpec(name="prod", cluster_id="c-1", region="r", project_id="p",
                       endpoint="emulator://demo", addons=(addon,))
    live = LiveCluster(cluster=Cluster(id="c-1", name="prod", version="v1.29",
                                       type="VirtualMachine", category="CCE", phase="Available"),
                       instances=(instance({"custom": {"n": 1}}, status="upgrading"),))
    state = StateFile(lineage="l", serial=1, cluster_name="prod", cluster_id="c-1", salt=SALT,
                      addons={"autoscaler": recorded({"custom": {"n": 1}})})
    held = checks.mid_operation(spec, addon, "upgrading", "update")
    other = checks.diagnostic(spec, addon, "version", "a real error")
    plan = ClusterPlan(name="prod", cluster_id="c-1", endpoint="emulator://demo",
                       project_id="p", region="r", errors=(held, other))
    found = cluster_drift(spec, live, {}, state, plan)
    (drift,) = found.addons
    assert drift.kinds == (DriftKind.IN_PROGRESS,)
    assert found.errors == (other,)  # a real error still fails the run
    assert [(w.message, w.severity) for w in found.warnings] == [(held.message, "warning")]

    alone = cluster_drift(spec, live, {}, state, replace(plan, errors=(held,)))
    assert alone.drifted and not alone.errors
