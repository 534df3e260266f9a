"""``--state URL`` / ``RECONCILER_STATE`` on the state commands: every one of
them works on a remote store, and a bad URL is a one-line error, exit 1."""

from __future__ import annotations

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
    actions = [r.get("action") for r in after.read_journal("production")]
    assert actions == []  # forgotten with its state
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
