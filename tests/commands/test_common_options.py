"""Every command that reads desired-state files takes the same common flags.

The flags come from one decorator (``reconciler.cli.options.common_options``),
so adding a common flag touches ``cli/`` only. This test walks the real click
tree: if a command grows its own copy of a common flag (different help, type,
default) or lacks one, it fails, and it runs each command with a bad ``--var``
to prove the flag reaches the loader everywhere.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cli.options import CommonOptions

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = ROOT / "examples" / "demo.yaml"

INPUT_FLAGS = ("files", "variables", "var_files", "endpoint", "allow_endpoints", "allow_env")
"""On every command that reads desired-state files (what the files may use is the
operator's to say wherever they are read: docs/trust-boundary.md)."""
SELECT_FLAGS = ("clusters", "addons")
"""On every such command except ``import`` (it names its cluster and add-on as
arguments), ``schema`` and ``values`` (they read templates: ``--addon`` and
``--cluster`` there name one add-on and one cluster, not a selection)."""
RUN_FLAGS = ("state_dir", "state", "parallelism", "rate_limit")
"""On every such command that talks to the cloud (all but ``validate``)."""
OUTPUT_FLAGS = ("no_color", "verbose", "log_file")
"""On every such command, ``validate`` included."""
READERS = {"plan", "apply", "drift", "import", "validate", "schema", "values"}
NOT_SELECTING = {"import", "schema", "values"}


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def _params(command: click.Command) -> dict[str, dict[str, Any]]:
    infos = {}
    for param in command.params:
        info = param.to_info_dict()
        # ``required`` of FILE… differs by design (import's files are optional).
        info.pop("required", None)
        infos[str(param.name)] = info
    return infos


def _readers() -> dict[str, dict[str, dict[str, Any]]]:
    return {name: _params(command) for name, command in _commands(cli).items()
            if "files" in _params(command)}


def test_the_commands_reading_desired_state_are_the_expected_ones() -> None:
    assert set(_readers()) == READERS


def test_the_flags_cover_every_field_of_the_options_object() -> None:
    fields = {f.name for f in dataclasses.fields(CommonOptions)}
    assert fields == {*INPUT_FLAGS, *SELECT_FLAGS, *RUN_FLAGS, *OUTPUT_FLAGS}


@pytest.mark.parametrize("flag", INPUT_FLAGS + SELECT_FLAGS + RUN_FLAGS + OUTPUT_FLAGS)
def test_a_common_flag_is_declared_once_and_alike_everywhere(flag: str) -> None:
    readers = _readers()
    expected = READERS
    if flag in SELECT_FLAGS:
        expected = READERS - NOT_SELECTING
    if flag in RUN_FLAGS:
        expected = READERS - {"validate"}
    having = {name: params[flag] for name, params in readers.items() if flag in params}
    assert set(having) == expected
    first = next(iter(having.values()))
    for name, info in having.items():
        assert info == first, f"{name}'s {flag} differs from the others'"


def test_state_and_state_dir_are_the_same_options_as_the_state_commands() -> None:
    commands = _commands(cli)
    for flag in ("state_dir", "state"):
        ours = _params(commands["plan"])[flag]
        for name in ("state list", "state show", "state rm", "state mv", "force-unlock",
                     "history"):
            assert _params(commands[name])[flag] == ours, (name, flag)


@pytest.mark.parametrize("argv", [
    ["validate", str(DEMO)],
    ["plan", str(DEMO)],
    ["apply", str(DEMO), "--auto-approve"],
    ["drift", str(DEMO)],
    ["import", "demo-prod", "everest", str(DEMO)],
])
def test_every_reader_hands_var_to_the_loader(argv: list[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*argv, "--var", "1bad=x", "--state-dir", "st"]
                                if argv[0] != "validate" else [*argv, "--var", "1bad=x"])
    assert result.exit_code == 1, result.output
    assert "invalid --var '1bad'" in result.stderr
    assert "nothing was sent to the cloud" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
