"""The command ``plan --out`` prints to apply the saved plan is one that works
as printed (issue 21: it left out what the plan needed)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "demo.yaml")


@pytest.mark.parametrize("state_args", [[], ["--state-dir", "my state"]],
                         ids=["default", "state-dir"])
def test_the_printed_apply_command_applies_the_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    planned = CliRunner().invoke(cli, ["plan", DEMO, "--cluster", "demo-legacy", *state_args,
                                       "--out", "p.json"], env={"NO_COLOR": "1"})
    assert planned.exit_code == 0, planned.output
    found = re.search(r"apply it with: (.*)$", planned.stderr, re.MULTILINE)
    assert found, planned.stderr
    command = shlex.split(found.group(1))
    assert command[:3] == ["reconciler", "apply", "p.json"]
    assert command[3:] == state_args
    applied = CliRunner().invoke(cli, [*command[1:], "--poll-interval", "0.01"],
                                 env={"NO_COLOR": "1"})
    assert applied.exit_code == 0, applied.output
    assert (tmp_path / (state_args[1] if state_args else ".reconciler/state")
            / "demo-legacy.json").is_file()
