"""Every case of tests/corpus/invalid/ through the real CLI.

A case is a directory with the input files and ``expected.yaml``::

    command: validate          # or plan, … (the CLI subcommand)
    files: [desired.yaml]      # optional, this is the default
    args: [--var, a=b]         # optional extra arguments
    env: {NAME: value}         # optional; null unsets a variable
    exit_code: 1
    messages: [...]            # substrings that must appear in stderr
    forbidden: [...]           # optional: must appear nowhere (secret values)

The case runs in a copy of its directory (so a `.reconciler/` it may create
stays out of the repository) with paths as written in ``files``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli

CORPUS = Path(__file__).parent.parent / "corpus" / "invalid"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_invalid_input_is_reported(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected: dict[str, Any] = yaml.safe_load((CORPUS / case / "expected.yaml").read_text())
    workdir = tmp_path / case
    shutil.copytree(CORPUS / case, workdir)
    monkeypatch.chdir(workdir)
    files = expected.get("files", ["desired.yaml"])
    argv = [expected["command"], *files, *expected.get("args", [])]
    assert expected["messages"], "a case must say which messages it expects"

    result = CliRunner().invoke(cli, argv, env=expected.get("env", {}))

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expected["exit_code"], result.output
    for message in expected["messages"]:
        assert message in result.stderr, f"missing {message!r} in:\n{result.stderr}"
    for secret in expected.get("forbidden", []):
        assert secret not in result.output
        assert secret.lower() not in result.output.lower()
