"""Every command that prints takes the output flags README lists as common:
``--no-color``, ``-v`` and ``--log-file``.

``state mv --no-color`` used to be refused ("No such option"): the flags were
only on the commands that read desired-state files. They are declared once
(``reconciler.cli.options``); this test walks the real click tree, so a new
command without them fails here, and runs each command with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "examples" / "demo.yaml"
OUTPUT_FLAGS = ("no_color", "verbose", "log_file")


def _leaves(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_leaves(command, (*prefix, name)))
        else:
            found[(*prefix, name)] = command
    return found


LEAVES = _leaves(cli)


def _info(command: click.Command, name: str) -> dict[str, Any]:
    (param,) = [p for p in command.params if p.name == name]
    return param.to_info_dict()


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path in LEAVES}
    assert {"plan", "apply", "show", "schema", "state mv", "state migrate", "force-unlock",
            "emulator serve"} <= names


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_command_declares_the_output_flags_the_same_way(path: tuple[str, ...]) -> None:
    command, reference = LEAVES[path], LEAVES[("plan",)]
    for name in OUTPUT_FLAGS:
        assert _info(command, name) == _info(reference, name), (path, name)


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_command_parses_the_output_flags(path: tuple[str, ...], tmp_path: Path) -> None:
    # --help comes last: an unknown flag before it is still an error (exit 1).
    result = CliRunner().invoke(
        cli, [*path, "--no-color", "-vv", "--log-file", str(tmp_path / "log.jsonl"), "--help"])
    assert result.exit_code == 0, result.output
    assert "No such option" not in result.output


# Real runs: each reaches its own work (or its own error) past the flags.
RUNS: list[tuple[list[str], int, str]] = [
    (["state", "mv", "old", "new"], 1, "no state for cluster 'old'"),
    (["state", "list"], 0, "No state files"),
    (["state", "show", "x"], 1, "no state for cluster 'x'"),
    (["state", "rm", "x"], 1, "no state for cluster 'x'"),
    (["state", "migrate", "--to", "elsewhere"], 0, ""),
    (["force-unlock", "x", "--yes"], 1, "no state or lock for cluster 'x'"),
    (["schema"], 0, '"$schema"'),
    (["emulator", "serve", "--scenario", "missing.yaml"], 1, "cannot read scenario"),
    (["validate", str(DEMO)], 0, "valid"),
]


@pytest.mark.parametrize(("args", "code", "text"), RUNS, ids=lambda v: str(v)[:30])
def test_commands_run_with_the_output_flags(
    args: list[str], code: int, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORCE_COLOR", "1")  # --no-color must still win
    log = tmp_path / "run.log.jsonl"
    result = CliRunner().invoke(cli, [*args, "--no-color", "-v", "--log-file", str(log)])
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "\x1b[" not in result.output
    assert log.exists()  # --log-file was taken up, not ignored


def test_show_honours_no_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORCE_COLOR", "1")
    runner = CliRunner()
    assert runner.invoke(cli, ["plan", str(DEMO), "--out", "p.json"]).exit_code == 0
    coloured = runner.invoke(cli, ["show", "p.json"])
    plain = runner.invoke(cli, ["show", "p.json", "--no-color", "-v"])
    assert coloured.exit_code == plain.exit_code == 0
    assert "\x1b[" in coloured.output and "\x1b[" not in plain.output
