"""Table-driven planner cases: tests/cases/<name>/ (format in engine_cases.py).

To write a new case's expected_plan.json from the current planner, run with
``RECONCILER_WRITE_CASES=1`` and then read the result line by line before
committing it: it is the specification, not a snapshot to wave through.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from engine_cases import case_dirs, load_case, matches, project, read_json

from reconciler.engine import plan_changes
from reconciler.model.plan import Plan


def _without_values(plan: Plan) -> Plan:
    """The plan minus ``Change.values``, the one place clear secrets may live."""
    return replace(plan, clusters=tuple(
        replace(c, changes=tuple(replace(ch, values={}) for ch in c.changes))
        for c in plan.clusters))


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_case(case: Path) -> None:
    desired, live, templates, states, environ = load_case(case)
    plan = plan_changes(desired, live, templates, states, plan_id="case", tool_version="test")
    actual = project(plan, case)
    expected_path = case / "expected_plan.json"
    if os.environ.get("RECONCILER_WRITE_CASES"):
        expected_path.write_text(json.dumps(actual, indent=2) + "\n", encoding="utf-8")
    expected = read_json(expected_path)
    assert matches(expected, actual), json.dumps(actual, indent=2)
    # secrets read by secret() never leave Change.values
    shown = repr(_without_values(plan))
    for name, value in environ.items():
        if name.endswith(("TOKEN", "PASSWORD", "SECRET")):
            assert value not in shown, f"secret {name} leaked into the plan"


def test_there_are_enough_cases() -> None:
    assert len(case_dirs()) >= 25
