"""The desired-state files' ``state: {url: …}`` block: plan, apply, drift and import
use it; ``--state``/``RECONCILER_STATE``/a typed ``--state-dir`` win over it; two
files naming different stores are an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import cli

DESIRED = """apiVersion: reconciler/v1
{state}defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      metrics-server: {{}}
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_STATE", raising=False)
    monkeypatch.delenv("RECONCILER_STATE_DIR", raising=False)
    return tmp_path


def test_the_files_state_block_is_where_plan_apply_and_drift_keep_state(work: Path) -> None:
    Path("fleet.yaml").write_text(DESIRED.format(state="state:\n  url: shared/state\n"),
                                  encoding="utf-8")
    applied = run("apply", "fleet.yaml", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert (work / "shared/state/demo-staging.json").is_file()
    assert not (work / ".reconciler/state").exists()
    planned = run("plan", "fleet.yaml", "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output  # it found the state it wrote
    assert run("drift", "fleet.yaml").exit_code == 0
    listed = run("state", "list", "--state", "shared/state")
    assert "demo-staging" in listed.output

    # The environment and a typed --state-dir win over the file.
    env_run = run("plan", "fleet.yaml", "--detailed-exitcode", env={"RECONCILER_STATE": "other"})
    assert env_run.exit_code == 2, env_run.output  # no state there: adopt
    typed = run("plan", "fleet.yaml", "--detailed-exitcode", "--state-dir", "elsewhere")
    assert typed.exit_code == 2, typed.output


def test_two_files_naming_different_stores_are_an_error(work: Path) -> None:
    Path("a.yaml").write_text(DESIRED.format(state="state:\n  url: one\n"), encoding="utf-8")
    Path("b.yaml").write_text(
        DESIRED.format(state="state:\n  url: two\n").replace("demo-staging", "demo-legacy")
        .replace("7c1f5a2e", "8d2e6b3f"), encoding="utf-8")
    result = run("validate", "a.yaml", "b.yaml")
    assert result.exit_code == 1, result.output
    assert "b.yaml:3:8: error: state.url: conflicting `state:` blocks" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_key_in_the_state_block_is_a_schema_error(work: Path) -> None:
    Path("a.yaml").write_text(DESIRED.format(state="state:\n  url: one\n  password: x\n"),
                              encoding="utf-8")
    result = run("validate", "a.yaml")
    assert result.exit_code == 1 and "password" in result.output, result.output
