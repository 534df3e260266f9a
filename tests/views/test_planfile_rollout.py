"""Plan files carry the rollout (issue 14): the waves, each cluster's labels and
wave, each change's version constraint; the digest seals them; plans written
before these fields existed still load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.model.plan import Action
from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.planfile import PlanFileError, load_plan, save_plan
from reconciler.planfile.codec import PlanFormatError, plan_from_json, plan_to_json
from reconciler.planfile.integrity import plan_digest
from tests.builders.plans import change, cluster, no_changes_plan, plan

ROLLOUT = Rollout(waves=(
    Wave(name="canary", clusters=("demo-staging",), soak_s=600.0),
    Wave(name="prod", clusters=("env=prod,region!=eu", "prod-*"), max_parallel=5,
         max_failures=1),
    Wave(name="rest"),
), pause=PauseMode.MANUAL)


def rollout_plan() -> Any:
    return plan(
        cluster("demo-staging", change("autoscaler", Action.UPGRADE, before_version="1.29.17",
                                       after_version="1.30.15", version_constraint="latest"),
                labels={"env": "staging"}, wave="canary", cluster_id="id-staging"),
        cluster("prod-us", change("coredns", Action.NOOP), labels={"env": "prod", "region": "us"},
                wave="prod", cluster_id="id-prod-us"),
        cluster("dev", wave="rest", cluster_id="id-dev"),
        rollout=ROLLOUT,
    )


def test_rollout_labels_waves_and_constraints_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    original = rollout_plan()
    save_plan(path, original, salts={})
    loaded = load_plan(path)
    assert loaded.rollout == ROLLOUT
    assert [(c.name, dict(c.labels), c.wave) for c in loaded.clusters] == [
        ("demo-staging", {"env": "staging"}, "canary"),
        ("prod-us", {"env": "prod", "region": "us"}, "prod"),
        ("dev", {}, "rest")]
    assert loaded.clusters[0].changes[0].version_constraint == "latest"
    assert loaded.clusters[0].changes[0].after_version == "1.30.15"
    assert plan_to_json(loaded, salts={}) == plan_to_json(original, salts={})


def test_the_json_shape_of_the_new_fields() -> None:
    data = plan_to_json(rollout_plan(), salts={})
    assert data["rollout"] == {"pause": "manual", "waves": [
        {"name": "canary", "clusters": ["demo-staging"], "soak_s": 600.0,
         "max_parallel": None, "max_failures": 0},
        {"name": "prod", "clusters": ["env=prod,region!=eu", "prod-*"], "soak_s": 0.0,
         "max_parallel": 5, "max_failures": 1},
        {"name": "rest", "clusters": [], "soak_s": 0.0, "max_parallel": None,
         "max_failures": 0}]}
    staging = data["clusters"][0]
    assert (staging["labels"], staging["wave"]) == ({"env": "staging"}, "canary")
    assert staging["changes"][0]["version_constraint"] == "latest"
    without = plan_to_json(no_changes_plan(), salts={})
    assert without["rollout"] is None
    assert {(c["wave"], json.dumps(c["labels"])) for c in without["clusters"]} == {("", "{}")}


def old_plan_json() -> dict[str, Any]:
    """A plan as the reconciler wrote it before rollouts: none of the new keys."""
    data = plan_to_json(rollout_plan(), salts={})
    del data["rollout"]
    for c in data["clusters"]:
        del c["labels"], c["wave"]
        for ch in c["changes"]:
            del ch["version_constraint"]
    data["digest"] = plan_digest(data)
    return data


def test_a_plan_written_before_rollouts_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old_plan_json()), encoding="utf-8")
    loaded = load_plan(path)
    assert loaded.rollout is None
    assert [(dict(c.labels), c.wave) for c in loaded.clusters] == [({}, "")] * 3
    assert loaded.clusters[0].changes[0].version_constraint == ""
    assert loaded.clusters[0].changes[0].after_version == "1.30.15"


@pytest.mark.parametrize("edit", [
    lambda d: d["rollout"]["waves"][1].update(max_failures=50),
    lambda d: d["rollout"]["waves"][0].update(soak_s=0),
    lambda d: d["rollout"].update(pause="none"),
    lambda d: d["clusters"][1].update(wave="canary"),
    lambda d: d["clusters"][1]["labels"].update(env="staging"),
    lambda d: d["clusters"][0]["changes"][0].update(version_constraint="~1.31"),
])
def test_an_edited_rollout_is_refused_by_the_digest(tmp_path: Path, edit: Any) -> None:
    path = tmp_path / "p.json"
    save_plan(path, rollout_plan(), salts={})
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PlanFileError, match="changed after it was written"):
        load_plan(path)


def resealed(edit: Any) -> dict[str, Any]:
    """The plan JSON edited and its digest recomputed (a forgery the digest can't see)."""
    data = plan_to_json(rollout_plan(), salts={})
    edit(data)
    data["digest"] = plan_digest(data)
    return data


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["clusters"][1].update(wave="gold"),
     "cluster prod-us is in wave 'gold', which the plan's rollout does not have"),
    (lambda d: d.update(rollout=None),
     "cluster demo-staging is in wave 'canary', which the plan's rollout does not have"),
    (lambda d: d["rollout"]["waves"][2].update(name="canary"),
     "rollout.waves repeats a wave name"),
    (lambda d: d["rollout"]["waves"][0].update(clusters=["env in (a"]),
     "rollout wave canary: "),
    (lambda d: d["rollout"]["waves"][0].update(max_parallel=0),
     r"rollout.waves\[0\].max_parallel"),
    (lambda d: d["rollout"]["waves"][0].update(soak_s=-1),
     r"rollout.waves\[0\].soak_s"),
    (lambda d: d["rollout"].update(pause="sometimes"), r"rollout"),
    (lambda d: d["clusters"][0]["labels"].update(env=3), r"clusters\[0\].labels.env"),
])
def test_an_inconsistent_rollout_is_not_a_valid_plan(edit: Any, message: str) -> None:
    with pytest.raises(PlanFormatError, match=message):
        plan_from_json(resealed(edit))
