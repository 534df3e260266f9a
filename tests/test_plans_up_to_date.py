"""plans/ holds the example plans rendered against the packaged emulators; they must
match what the code renders today (regenerate with `python plans/regenerate.py`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _regenerate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "plans_regenerate", ROOT / "plans" / "regenerate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["plans_regenerate"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_plans_match_the_rendering() -> None:
    regenerate = _regenerate_module()
    rendered = regenerate.rendered()
    assert {"demo.md", "demo.plan.json", "fleet.md", "fleet.plan.json"} <= rendered.keys()
    for name, text in rendered.items():
        committed = (ROOT / "plans" / name).read_text(encoding="utf-8")
        assert committed == text, f"plans/{name} is out of date: run python plans/regenerate.py"


def test_rendering_is_deterministic_and_secret_free() -> None:
    regenerate = _regenerate_module()
    first, second = regenerate.rendered(), regenerate.rendered()
    assert first == second
    secret = regenerate.EXAMPLE_ENV["AUTOSCALER_TOKEN"]
    assert all(secret not in text for text in first.values())
    assert "(sensitive)" in first["multi-env-prod.md"]
