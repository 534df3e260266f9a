"""Every usage error exits 1 (docs/planning.md, "Exit codes"), in every command of the click tree.

click exits 2 on a usage error by default: the code plan --detailed-exitcode
and drift use for "changes", so a cron job with a typo'd flag would pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "demo.yaml")


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the tree, groups included."""
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _paths(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _paths(cli)


def test_the_walk_finds_the_whole_tree() -> None:
    # A guard that the parametrisation below covers nested groups too.
    assert ("state", "rm") in COMMANDS and ("emulator", "serve") in COMMANDS
    assert ("plan",) in COMMANDS and () in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "reconciler")
def test_a_typod_flag_exits_1_with_click_message(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*path, "--detailed-exitcod"])
    assert result.exit_code == 1, result.output
    assert "No such option" in result.stderr and "--detailed-exitcod" in result.stderr
    assert "Usage:" in result.stderr
    assert list(tmp_path.iterdir()) == []


BAD_USAGE = {
    "bad choice": ["plan", DEMO, "--format", "nope"],
    "bad number": ["plan", DEMO, "--parallelism", "0"],
    "missing argument": ["state", "rm", "demo-prod"],
    "missing FILE": ["validate"],
    "unknown command": ["plna", DEMO],
    "saved plan with --cluster": ["apply", "PLAN", "--cluster", "x"],
    "malformed --accept-risk in apply": ["apply", DEMO, "--accept-risk", "coredns"],
    "bad emulator port": ["emulator", "serve", "--port", "http"],
}


@pytest.mark.parametrize("case", sorted(BAD_USAGE))
def test_bad_usage_exits_1(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = BAD_USAGE[case]
    if "PLAN" in args:
        planned = CliRunner().invoke(cli, ["plan", DEMO, "--out", "demo.plan.json"])
        assert planned.exit_code == 0, planned.output
        args = [a if a != "PLAN" else "demo.plan.json" for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip(), "a usage error says what is wrong"


def test_the_installed_entry_point_exits_1_on_a_typo(tmp_path: Path) -> None:
    # The real process, as a CronJob runs it: not only click's test runner.
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", DEMO, "--detailed-exitcod"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "No such option" in done.stderr
