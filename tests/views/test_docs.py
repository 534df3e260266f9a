"""docs/plan-json.md documents every field of the shipped plan schema."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.planfile import plan_digest
from reconciler.planfile.codec import JSON_FORMAT_VERSION, plan_from_json, plan_to_json

ROOT = Path(__file__).parent.parent.parent
SCHEMA = json.loads((ROOT / "reconciler/planfile/plan.schema.json").read_text(encoding="utf-8"))
DOC = (ROOT / "docs/plan-json.md").read_text(encoding="utf-8")


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node.get("properties", {})
        for child in node.values():
            yield from _property_names(child)
    elif isinstance(node, list):
        for child in node:
            yield from _property_names(child)


def test_every_schema_field_is_documented() -> None:
    names = set(_property_names(SCHEMA))
    assert len(names) > 40
    undocumented = sorted(n for n in names if f"`{n}`" not in DOC)
    assert undocumented == []


def test_documented_version_is_the_current_one() -> None:
    assert re.search(rf"# The JSON plan format \(`format_version` {JSON_FORMAT_VERSION}\)", DOC)
    assert SCHEMA["properties"]["format_version"] == {"const": JSON_FORMAT_VERSION}


def test_the_documented_example_is_a_valid_plan() -> None:
    example = json.loads(DOC.split("```json\n", 1)[1].split("\n```", 1)[0])
    plan = plan_from_json(example)
    assert plan_to_json(plan, salts={}) == example


def test_the_documented_digest_recipe_is_plan_digest() -> None:
    recipe = DOC.split("```python\n", 1)[1].split("\n```", 1)[0]
    example = json.loads(DOC.split("```json\n", 1)[1].split("\n```", 1)[0])
    scope: dict[str, Any] = {"json": json, "hashlib": hashlib, "plan": example}
    exec(recipe, scope)  # the doc's own Python, run on the doc's own example
    assert scope["digest"] == plan_digest(example) == example["digest"]
