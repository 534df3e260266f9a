"""views.ansi must print exactly what click.style printed before it replaced it."""

from __future__ import annotations

import click
import pytest

from reconciler.views.ansi import COLOURS, style
from reconciler.views.drifttext import render_drift_text


@pytest.mark.parametrize("bold", [None, True, False])
@pytest.mark.parametrize("fg", [None, *COLOURS])
def test_style_is_byte_identical_to_click(fg: str | None, bold: bool | None) -> None:
    for text in ("drifted", "", "ünïcode → x", "\x1b[31m already styled"):
        assert style(text, fg=fg, bold=bold) == click.style(text, fg=fg, bold=bold)


def test_every_named_click_colour_is_known() -> None:
    for name in ("red", "green", "yellow", "bright_white", "reset"):
        assert style("x", fg=name) == click.style("x", fg=name)


def test_unknown_colour_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown colour 'mauve' \(valid: black, red, "):
        style("x", fg="mauve")


def _report(status: str) -> dict[str, object]:
    return {
        "generated_at": "2026-01-01T00:00:00Z",
        "summary": {"clusters": 1, "drifted": int(status == "drifted"), "error": 0},
        "clusters": [
            {"name": "prod", "cluster_id": "c1", "status": status,
             "errors": [], "warnings": [], "addons": []},
        ],
    }


@pytest.mark.parametrize(
    ("status", "escape"), [("clean", "32"), ("drifted", "33"), ("error", "31")]
)
def test_drift_text_colours_the_status_as_it_always_did(status: str, escape: str) -> None:
    coloured = render_drift_text(_report(status), color=True)
    assert f"prod (c1): \x1b[{escape}m\x1b[1m{status}\x1b[0m" in coloured.splitlines()
    plain = render_drift_text(_report(status), color=False)
    assert f"prod (c1): {status}" in plain.splitlines() and "\x1b" not in plain
