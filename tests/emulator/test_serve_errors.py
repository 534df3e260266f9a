"""``reconciler emulator serve`` with a state file it can't use: one line,
exit 1, before the server starts (no traceback, no 500 on the first write)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli


def _serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _one_line_error(code: int, output: str, *needles: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output and "CCE emulator on" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    for needle in needles:
        assert needle in lines[0], output


def test_an_unwritable_state_file_is_one_line() -> None:
    _one_line_error(*_serve("--state-file", "/proc/nope/x"), "/proc/nope/x", "cannot write")


@pytest.mark.parametrize("content", ["{not json", '{"format_version": 1}', "[1]",
                                     '{"format_version": 1, "instances": [1],'
                                     ' "addon_tasks": [], "cluster_tasks": []}'])
def test_a_malformed_state_file_is_one_line(tmp_path: Path, content: str) -> None:
    state = tmp_path / "emu.json"
    state.write_text(content, encoding="utf-8")
    _one_line_error(*_serve("--state-file", str(state)), str(state), "emulator state")
