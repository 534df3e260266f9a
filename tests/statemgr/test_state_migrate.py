"""``reconciler state migrate --to URL``: every cluster's state and journal copied
to another backend (here from local files to S3 or PostgreSQL), verified, safe to
re-run, and a target holding another lineage refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import S3_SECRET_KEY, Target, target_for
from statemgr_helpers import sample_state

from reconciler.cli.main import cli
from reconciler.statemgr.local import LocalBackend


@pytest.fixture(params=["local", "s3", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    made = target_for(request.param, request, tmp_path / "target")
    yield made
    made.close_all()


def migrate(source_dir: Path, target: Target) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["state", "migrate", "--state-dir", str(source_dir), "--to", target.url],
        env=target.env)
    assert S3_SECRET_KEY not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_migrate_copies_state_and_journal_verified_and_is_safe_to_rerun(
    target: Target, tmp_path: Path
) -> None:
    source_dir = tmp_path / "source"
    source = LocalBackend(source_dir)
    for name in ("prod", "staging"):
        written = source.write(sample_state(name))
        source.append_journal(name, {"action": "install", "addon": "coredns", "result": "ok"})
        assert written.serial == 1

    code, out = migrate(source_dir, target)
    assert code == 0, out
    assert "prod: copied (journal: 1 record(s) copied)" in out
    assert "Migrated 2 of 2 cluster state(s)" in out
    copy = target.open()
    assert copy.list() == ["prod", "staging"]
    for name in ("prod", "staging"):
        assert copy.read(name) == source.read(name)  # same lineage and serial: plans stay bound
        assert [r["action"] for r in copy.read_journal(name)] == ["install"]

    code, out = migrate(source_dir, target)  # a re-run changes nothing
    assert code == 0 and "prod: unchanged (journal: 0 record(s) copied)" in out, out

    # More applies on the source: the target is brought forward.
    source.write(dataclasses.replace(source.read("prod"), project_id="p2"))  # type: ignore[arg-type]
    code, out = migrate(source_dir, target)
    assert code == 0 and "prod: updated" in out, out
    assert target.open().read("prod") == source.read("prod")


def test_a_target_with_another_lineage_is_refused(target: Target, tmp_path: Path) -> None:
    source_dir = tmp_path / "source"
    LocalBackend(source_dir).write(sample_state("prod"))
    other = dataclasses.replace(sample_state("prod"), lineage="0" * 8 + "-other-lineage")
    target.open().write(other)
    code, out = migrate(source_dir, target)
    assert code == 1, out
    assert "Traceback" not in out and "lineage" in out, out
    assert target.open().read("prod").lineage == other.lineage  # type: ignore[union-attr]


def test_a_bad_target_url_is_one_line_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["state", "migrate", "--state-dir", str(tmp_path),
                                      "--to", "ftp://nowhere/x"])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and "--to" in result.output
