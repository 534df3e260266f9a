"""Each journal record of a real apply says who ran it (issue 19, item 6)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.statemgr.actor import user_name

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def test_apply_journals_the_actor_and_the_ci_run(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "acme/fleet", "NO_COLOR": "1",
           "RECONCILER_ACTOR": "", "CI_JOB_ID": ""}
    result = CliRunner().invoke(cli, ["apply", str(DEMO), "--auto-approve", "--cluster",
                                      "demo-staging", "--poll-interval", "0.01"], env=env)
    assert result.exit_code in (0, 1), result.output
    journal = tmp_path / ".reconciler" / "state" / "demo-staging.journal.jsonl"
    records = [json.loads(line) for line in journal.read_text("utf-8").splitlines() if line]
    assert records, result.output
    expected = f"{user_name()}@{socket.gethostname()} (github acme/fleet run 4242)"
    assert {r["actor"] for r in records} == {expected}
