from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from reconciler.planfile import PlanFileError, load_plan, save_plan
from reconciler.planfile.codec import plan_to_json
from reconciler.policy import resource_changes
from reconciler.views import render_plan
from tests.builders.plans import SALTS, everything_plan, no_changes_plan


def test_saved_plan_loads_back_to_the_same_json(tmp_path: Path) -> None:
    path = tmp_path / "plans" / "prod.plan.json"  # parent directories are created
    plan = everything_plan()
    save_plan(path, plan, salts=SALTS)
    loaded = load_plan(path)
    assert plan_to_json(loaded, salts={}) == plan_to_json(plan, salts=SALTS)
    # The file is the canonical JSON; `plan --format json` adds the derived
    # resource_changes (docs/policy.md) and nothing else.
    rendered = json.loads(render_plan(plan_to_json(plan, salts=SALTS), "json"))
    assert rendered.pop("resource_changes") == resource_changes(rendered)
    assert json.loads(path.read_text(encoding="utf-8")) == rendered


def test_saving_a_loaded_plan_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_plan(first, everything_plan(), salts=SALTS)
    save_plan(second, load_plan(first), salts={})
    assert first.read_bytes() == second.read_bytes()


def test_plan_file_is_shareable_and_no_temporary_file_remains(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plan(path, no_changes_plan(), salts={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_failed_save_leaves_the_previous_plan_untouched(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plan(path, no_changes_plan(), salts={})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="no salt"):
        save_plan(path, everything_plan(), salts={})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match=r"cannot read plan file .*nope\.json: No such file"):
        load_plan(tmp_path / "nope.json")


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "format_version": 2,\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(PlanFileError, match=r"bad\.json:3:3: not a valid plan file: invalid JSON"):
        load_plan(path)


def test_old_or_future_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    data = plan_to_json(no_changes_plan(), salts={})
    data["format_version"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(PlanFileError, match=r"future\.json: unsupported plan format_version 99"):
        load_plan(path)


def test_json_that_is_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format_version": 2, "lineage": "x"}', encoding="utf-8")
    with pytest.raises(PlanFileError, match="'plan_id' is a required property"):
        load_plan(path)
