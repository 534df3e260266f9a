"""JSON plans of fleets for the view tests: rollouts, waves, labels and version constraints.

``to_json`` is the codec's JSON plus the fleet fields (``rollout``, a cluster's
``labels`` and ``wave``, a change's ``version_constraint``) set from the model
where the codec doesn't write them yet; where it does, its own are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model.plan import Action, Change, ClusterPlan, FieldChange, FieldChangeKind, Plan
from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.planfile.codec import plan_to_json
from tests.builders.plans import change, cluster, plan

__all__ = ["ROLLOUT", "bench_fleet", "one_line_update", "to_json"]

JSONDict = dict[str, Any]

ROLLOUT = Rollout(
    waves=(
        Wave("canary", ("demo-staging",), soak_s=600.0),
        Wave("prod", ("env=prod",), max_parallel=5, max_failures=1),
        Wave("rest"),
    ),
    pause=PauseMode.MANUAL,
)


def to_json(p: Plan, salts: Mapping[str, str] | None = None) -> JSONDict:
    data = plan_to_json(p, salts=salts or {})
    rollout = None
    if p.rollout is not None:
        rollout = {
            "pause": p.rollout.pause.value,
            "waves": [
                {"name": w.name, "clusters": list(w.clusters), "soak_s": w.soak_s,
                 "max_parallel": w.max_parallel, "max_failures": w.max_failures}
                for w in p.rollout.waves
            ],
        }
    data.setdefault("rollout", rollout)
    for model, cj in zip(p.clusters, data["clusters"], strict=True):
        cj.setdefault("labels", dict(model.labels))
        cj.setdefault("wave", model.wave)
        for ch, chj in zip(model.changes, cj["changes"], strict=True):
            chj.setdefault("version_constraint", ch.version_constraint)
    return data


def one_line_update(before: Any = 30, after: Any = 50, **fields: Any) -> Change:
    """The autoscaler's ``custom.maxNodesTotal`` changing: one diff line."""
    return change(
        "autoscaler",
        Action.UPDATE,
        FieldChange("custom.maxNodesTotal", FieldChangeKind.CHANGED, before=before, after=after),
        instance_id="uid-autoscaler",
        before_version="1.30.15",
        after_version="1.30.15",
        reason="values differ from live",
        **fields,
    )


def bench_fleet(count: int, *changes: Change, **plan_fields: Any) -> Plan:
    """``bench-00000`` … each making ``changes``, with its own ids."""
    clusters: list[ClusterPlan] = [
        cluster(f"bench-{i:05d}", *changes, cluster_id=f"cid-{i:05d}",
                kubernetes_version="v1.30", labels={"env": "prod"})
        for i in range(count)
    ]
    return plan(*clusters, **plan_fields)
