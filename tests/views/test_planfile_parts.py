"""The planfile pieces on their own: schema problems and the integrity digest."""

from __future__ import annotations

import copy

from reconciler.planfile.codec import JSON_FORMAT_VERSION, plan_to_json
from reconciler.planfile.integrity import CHANGED_AFTER_WRITTEN, digest_problem, plan_digest
from reconciler.planfile.schema import MAX_LISTED_PROBLEMS, schema_problems
from tests.builders.plans import SALTS, everything_plan


def test_a_fresh_plan_has_no_schema_problem_and_a_matching_digest() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    assert schema_problems(data) is None
    assert data["digest"] == plan_digest(data)
    assert digest_problem(data, format_version=JSON_FORMAT_VERSION) is None


def test_many_schema_problems_are_listed_first_few_then_counted() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    for cluster in data["clusters"]:
        del cluster["state_serial"], cluster["region"], cluster["project_id"]
    problems = schema_problems(data)
    assert problems is not None
    assert problems.count("is a required property") == MAX_LISTED_PROBLEMS
    assert problems.endswith("; and 4 more problems")
    assert problems.startswith("clusters[0]: ")


def test_digest_ignores_key_order_and_its_own_field_but_not_content() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    reordered = dict(reversed(list(data.items())))
    assert plan_digest(reordered) == plan_digest({**data, "digest": "sha256:other"})
    edited = copy.deepcopy(data)
    edited["clusters"][0]["changes"][0]["after_version"] = "9.9.9"
    problem = digest_problem(edited, format_version=JSON_FORMAT_VERSION)
    assert problem is not None and problem.startswith(CHANGED_AFTER_WRITTEN)


def test_missing_digest_is_refused_only_for_a_current_plan() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    del data["digest"]
    assert "has no digest" in str(digest_problem(data, format_version=JSON_FORMAT_VERSION))
    # An older version and a non-plan are left to the codec and the schema to name.
    assert digest_problem({**data, "format_version": 1}, format_version=JSON_FORMAT_VERSION) is None
    assert digest_problem({"format_version": JSON_FORMAT_VERSION}, format_version=2) is None
