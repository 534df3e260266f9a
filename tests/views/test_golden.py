"""Golden renderings of representative plans.

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/views`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.model.plan import Plan
from reconciler.planfile.codec import plan_to_json
from reconciler.views import render_plan
from tests.builders.plans import (
    SALTS,
    errors_only_plan,
    everything_plan,
    large_plan,
    no_changes_plan,
)

GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

PLANS: dict[str, Callable[[], Plan]] = {
    "everything": everything_plan,
    "no_changes": no_changes_plan,
    "errors_only": errors_only_plan,
    "large": lambda: large_plan(6, 4, 5),
}
EXTENSIONS = {"text": "txt", "markdown": "md", "json": "json"}

# (golden file stem, plan, format, options)
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    *(
        (name, name, fmt, {})
        for name in ("everything", "no_changes", "errors_only")
        for fmt in EXTENSIONS
    ),
    ("everything.provenance", "everything", "text", {"show_provenance": True}),
    ("everything.provenance", "everything", "markdown", {"show_provenance": True}),
    ("everything.color", "everything", "text", {"color": True}),
    ("large.truncated", "large", "markdown", {"max_chars": 4000}),
]


@pytest.mark.parametrize(
    ("stem", "plan", "fmt", "options"), CASES, ids=[f"{c[0]}.{EXTENSIONS[c[2]]}" for c in CASES]
)
def test_rendering_matches_golden_file(
    stem: str, plan: str, fmt: str, options: dict[str, Any]
) -> None:
    rendered = render_plan(plan_to_json(PLANS[plan](), salts=SALTS), fmt, **options)
    path = GOLDEN / f"{stem}.{EXTENSIONS[fmt]}"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run UPDATE_GOLDEN=1 pytest tests/views"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{path.name} drifted; if the change is intended, run UPDATE_GOLDEN=1 pytest tests/views"
    )


def test_every_golden_file_is_produced_by_a_case() -> None:
    expected = {f"{stem}.{EXTENSIONS[fmt]}" for stem, _, fmt, _ in CASES}
    assert {p.name for p in GOLDEN.iterdir() if p.is_file()} == expected
