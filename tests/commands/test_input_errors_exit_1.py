"""Bad input exits 1 in every command: never 2, which plan --detailed-exitcode
and drift use to say "there are changes" / "there is drift"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "demo.yaml")

CASES = {
    "missing file": (["nope.yaml"], "nope.yaml"),
    "missing var file": ([DEMO, "--var-file", "nope.vars.yaml"], "nope.vars.yaml"),
    "malformed --var": ([DEMO, "--var", "no-equals-sign"], "--var"),
}


@pytest.mark.parametrize("command", ["plan", "drift", "apply", "validate"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_1_and_says_what(
    command: str, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args, named = CASES[case]
    extra = ["--detailed-exitcode"] if command == "plan" else []
    result = CliRunner().invoke(cli, [command, *args, *extra])
    assert result.exit_code == 1, result.output
    assert named in result.stderr
    assert "nothing was sent to the cloud" in result.stderr
    assert not (tmp_path / ".reconciler").exists()
