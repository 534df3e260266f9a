"""`reconciler show` renders a saved plan, and refuses a bad one clearly."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent.parent


def test_show_renders_a_saved_plan_like_plan_did() -> None:
    result = CliRunner().invoke(cli, ["show", str(ROOT / "plans" / "demo.plan.json"),
                                      "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (ROOT / "plans" / "demo.md").read_text(encoding="utf-8")


def test_show_refuses_an_unknown_format_version_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "old.plan.json"
    bad.write_text('{"format_version": 99}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["show", str(bad)])
    assert result.exit_code == 1
    assert "unsupported plan format_version 99" in result.stderr
    assert "Traceback" not in result.output
