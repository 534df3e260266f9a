"""A known secret in a plan's values never reaches any rendering or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.planfile import save_plan
from reconciler.planfile.codec import plan_to_json
from reconciler.views import render_plan
from tests.builders.plans import API_KEY, OLD_SECRET, SALTS, SECRET, everything_plan

SECRETS = (SECRET, OLD_SECRET, API_KEY)

RENDERINGS = [
    ("text", {}),
    ("text", {"color": True}),
    ("text", {"show_provenance": True}),
    ("text", {"show_provenance": True, "color": True}),
    ("markdown", {}),
    ("markdown", {"show_provenance": True}),
    ("markdown", {"max_chars": 3000}),
    ("json", {}),
]


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret[:12] not in text  # nor a recognisable piece of it


def test_the_plan_really_holds_the_secrets() -> None:
    # Guards the other tests against passing because the secrets were never there.
    autoscaler = next(c for c in everything_plan().clusters[0].changes if c.addon == "autoscaler")
    assert autoscaler.values["custom"]["password"] == SECRET
    assert autoscaler.values["custom"]["apiKey"] == API_KEY
    assert OLD_SECRET in {fc.before for fc in autoscaler.field_changes}


@pytest.mark.parametrize(("fmt", "options"), RENDERINGS)
def test_no_rendering_contains_a_secret(fmt: str, options: dict[str, object]) -> None:
    text = render_plan(plan_to_json(everything_plan(), salts=SALTS), fmt, **options)  # type: ignore[arg-type]
    _assert_no_secret(text)
    if "truncated" not in text:
        assert "(sensitive" in text


def test_plan_file_contains_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_plan(path, everything_plan(), salts=SALTS)
    _assert_no_secret(path.read_text(encoding="utf-8"))


def test_a_changed_secret_still_shows_as_a_change() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    text = render_plan(data, "text")
    markdown = render_plan(data, "markdown")
    assert "~ custom.password: (sensitive)" in text
    assert "- custom.password: (sensitive)\n+ custom.password: (sensitive, changed)" in markdown
    # A nested secret inside a changed map is hashed, its neighbours stay readable.
    assert (
        '+ custom.webhook: {"token": "(sensitive)", "url": "https://hooks.example.com/a`b"}' in text
    )
    # A key that only looks secret is hidden even though the planner did not mark it.
    assert "+ custom.apiKey: (sensitive)" in text
