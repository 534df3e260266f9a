"""replan_settled: what is left of a change once the operation that was in
flight on its instance settled (issue 11, path 8)."""

from __future__ import annotations

import pytest

from reconciler.engine.replan import replan_settled
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, InstanceStatus
from reconciler.model.plan import Action, Change

VALUES: dict[str, JSON] = {"custom": {"replicas": 2}}
UPGRADE = Change(addon="metrics-server", action=Action.UPGRADE, instance_id="i-1",
                 before_version="1.3.60", after_version="1.3.68", values=VALUES)


def settled(version: str, status: str = "running", values: dict[str, JSON] | None = None,
            reason: str = "") -> AddonInstance:
    return AddonInstance(uid="i-1", name="metrics-server", cluster_id="c-1",
                         template_name="metrics-server", version=version,
                         values=VALUES if values is None else values,
                         status=InstanceStatus(status=status, reason=reason))


def test_an_operation_that_did_the_change_leaves_nothing_to_send() -> None:
    change = replan_settled(UPGRADE, settled("1.3.68"))
    assert isinstance(change, Change)
    assert (change.action, change.field_changes, change.before_version) == (
        Action.ADOPT, (), "1.3.68")


def test_a_version_change_still_to_do_is_kept_from_the_settled_version() -> None:
    change = replan_settled(UPGRADE, settled("1.3.60", values={"custom": {"replicas": 3}}))
    assert isinstance(change, Change)
    assert change.action is Action.UPGRADE and change.before_version == "1.3.60"
    assert [f.path for f in change.field_changes] == ["custom.replicas"]


@pytest.mark.parametrize("planned", [Action.UPGRADE, Action.UPDATE, Action.ADOPT])
def test_values_still_to_send_are_an_update_or_an_adopt_that_writes(planned: Action) -> None:
    change = replan_settled(Change(addon="m", action=planned, instance_id="i-1",
                                   before_version="1.3.60", after_version="1.3.68",
                                   values=VALUES),
                            settled("1.3.68", values={"custom": {"replicas": 1}}))
    assert isinstance(change, Change) and change.field_changes
    assert change.action is (Action.ADOPT if planned is Action.ADOPT else Action.UPDATE)


def test_a_failed_or_foreign_outcome_needs_a_new_plan() -> None:
    failed = replan_settled(UPGRADE, settled("1.3.68", "upgradeFailed", reason="ImagePull"))
    assert failed == "the operation in flight ended upgradeFailed (Reason: ImagePull)"
    foreign = replan_settled(UPGRADE, settled("1.3.70"))
    assert isinstance(foreign, str) and "left version 1.3.70" in foreign
    gone = replan_settled(UPGRADE, None)
    assert isinstance(gone, str) and "deleted" in gone


def test_a_delete_done_by_the_operation_is_a_no_op_and_otherwise_still_due() -> None:
    delete = Change(addon="npd", action=Action.DELETE, instance_id="i-1",
                    before_version="1.19.1")
    done = replan_settled(delete, None)
    assert isinstance(done, Change) and done.action is Action.NOOP
    due = replan_settled(delete, settled("1.19.0"))
    assert isinstance(due, Change) and (due.action, due.before_version) == (
        Action.DELETE, "1.19.0")
