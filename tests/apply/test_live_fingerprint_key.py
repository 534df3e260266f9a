"""The live fingerprint a saved plan carries is keyed by the state's salt, and
a plan saved before it was keyed still reads as fresh."""

from __future__ import annotations

import dataclasses

from reconciler.apply.freshness import stale_reasons
from reconciler.engine import fingerprint_instances
from reconciler.model.live import AddonInstance, InstanceStatus
from reconciler.model.plan import ClusterPlan
from reconciler.model.state import StateFile

INSTANCES = [AddonInstance(uid="u1", name="coredns", cluster_id="id", template_name="coredns",
                           version="1.30.33", values={"custom": {"token": "s3cret"}},
                           status=InstanceStatus(status="running"))]
STATE = StateFile(lineage="L", serial=3, cluster_name="c", cluster_id="id", salt="state-salt")
PLAN = ClusterPlan(name="c", cluster_id="id", endpoint="emulator://demo", project_id="p",
                   region="r", state_lineage="L", state_serial=3,
                   live_fingerprint=fingerprint_instances(INSTANCES, "state-salt"))


def test_keyed_by_the_state_salt_and_fresh_until_live_moves() -> None:
    assert stale_reasons(PLAN, STATE, INSTANCES) == []
    moved = [dataclasses.replace(INSTANCES[0], values={"custom": {"token": "rotated"}})]
    assert stale_reasons(PLAN, STATE, moved) == [
        "cluster c: its live add-ons changed since the plan"]
    other_salt = dataclasses.replace(STATE, salt="another")
    assert stale_reasons(PLAN, other_salt, INSTANCES) != []


def test_a_plan_saved_before_the_key_is_still_fresh() -> None:
    old = dataclasses.replace(PLAN, live_fingerprint=fingerprint_instances(INSTANCES))
    assert stale_reasons(old, STATE, INSTANCES) == []


def test_a_first_run_plan_is_keyed_by_its_own_salt() -> None:
    first = dataclasses.replace(PLAN, state_lineage="", state_serial=0, salt="kdf:abc",
                                live_fingerprint=fingerprint_instances(INSTANCES, "kdf:abc"))
    assert stale_reasons(first, None, INSTANCES) == []
    assert stale_reasons(first, None, INSTANCES, "kdf:abc") == []
