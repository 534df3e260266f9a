"""``--state URL`` / ``RECONCILER_STATE`` on the state commands: every one of
them works on a remote store, and a bad URL is a one-line error, exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import S3_SECRET_KEY, Target, target_for
from statemgr_helpers import sample_state

from reconciler.cli.main import cli


@pytest.fixture(params=["s3", "postgres"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    made = target_for(request.param, request, tmp_path)
    yield made
    made.close_all()


def run(target: Target, *args: str, input: str | None = None) -> tuple[int, str]:
    env = {**target.env, "RECONCILER_STATE": target.url}
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    assert S3_SECRET_KEY not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_state_commands_work_on_a_remote_store(
    remote: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    remote.open().write(sample_state("prod"))
    code, out = run(remote, "state", "list")
    assert code == 0 and "prod" in out, out
    code, out = run(remote, "state", "show", "prod")
    assert code == 0 and "coredns" in out, out
    code, out = run(remote, "state", "rm", "prod", "coredns")
    assert code == 0 and "Removed coredns" in out, out
    code, out = run(remote, "state", "mv", "prod", "production")
    assert code == 0 and "Moved the state of prod to production" in out, out
    code, out = run(remote, "force-unlock", "production", "--yes")
    assert code == 0 and "not locked" in out, out
    with remote.open().lock("production", "apply"):
        code, out = run(remote, "force-unlock", "production", "--yes")
    assert code == 0 and "Unlocked production; it was held by" in out, out
    code, out = run(remote, "state", "rm", "production")
    assert code == 0 and "Forgot the state of production" in out, out
    code, out = run(remote, "state", "show", "qa")
    assert code == 1 and "no state for cluster 'qa'" in out
    after = remote.open()
    assert after.list() == []
    # The state is forgotten; its journal (moved along by state mv) is kept.
    actions = [r.get("action") for r in after.read_journal("production")]
    assert actions == ["state rm", "state mv", "state rm"]
    assert after.read_journal("prod") == []
    assert not (tmp_path / ".reconciler").exists()


def test_history_reads_the_journal_of_a_remote_store(
    remote: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = remote.open()
    backend.write(sample_state("prod"))
    backend.append_journal("prod", {"time": "2020-01-01T00:00:00Z", "action": "install",
                                    "addon": "coredns", "to_version": "1.28.7",
                                    "result": "installed", "plan_id": "p-old"})
    backend.append_journal("staging", {"action": "upgrade", "addon": "everest",
                                       "from_version": "2.4.7", "to_version": "2.4.28",
                                       "result": "upgraded", "plan_id": "p-new"})
    code, out = run(remote, "state", "rm", "prod")
    assert code == 0, out
    code, out = run(remote, "history")
    assert code == 0, out
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [(row[2], row[4]) for row in rows] == [
        ("prod", "install"), ("staging", "upgrade"), ("prod", "state")]
    assert rows[1][6:10] == ["2.4.7", "->", "2.4.28", "upgraded"]
    code, out = run(remote, "history", "prod", "--addon", "coredns", "--format", "json")
    assert code == 0, out
    # The state rm names the add-ons it forgot, so it belongs to coredns' history too.
    assert [(r["action"], r.get("plan_id")) for r in json.loads(out)] == [
        ("install", "p-old"), ("state rm", None)]
    code, out = run(remote, "history", "--since", "1d", "--format", "json")
    assert [r["action"] for r in json.loads(out)] == ["upgrade", "state rm"]
    assert not (tmp_path / ".reconciler").exists()


@pytest.mark.parametrize("url", [
    "ftp://bucket/prefix",
    "s3://Bad_Bucket/x?region=r",
    "postgres://u:hunter2@db/x",
])
def test_a_bad_state_url_is_one_line_exit_1(url: str, tmp_path: Path) -> None:
    for args in (["state", "list", "--state", url], ["force-unlock", "prod", "--state", url]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "hunter2" not in result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Valid forms:" in lines[0], lines


def test_state_and_state_dir_together_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["state", "list", "--state", str(tmp_path), "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "give --state or --state-dir, not both" in result.output


def test_a_typed_state_dir_wins_over_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["state", "list", "--state-dir", str(tmp_path / "here")],
                                env={"RECONCILER_STATE": "ftp://nowhere/x"})
    assert result.exit_code == 0, result.output
    assert f"No state files in {tmp_path / 'here'}" in result.output
