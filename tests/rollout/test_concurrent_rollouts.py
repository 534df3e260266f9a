"""Issue 21: two applies of one rollout interleaved. The second took a
cluster while the first was between waves; the first then reported "Rollout
complete" with that cluster's lock refusal as a failure its wave tolerated,
and the second's summary contradicted itself. A rollout now holds every
cluster of its plan from start to end: the second is refused before it writes
anything, or, told to wait, finds its plan stale once it gets the locks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Fleet, fleet_env

pytestmark = pytest.mark.slow  # ~15 s: a fleet served, two rollouts run

COMMAND = [sys.executable, "-m", "reconciler", "apply", "fleet.yaml", "--auto-approve"]


def _start_first(tmp_path: Path, fleet: Fleet) -> tuple[subprocess.Popen[str], list[str]]:
    """The first rollout, left running once its canary wave soaks."""
    out = (tmp_path / "first.out").open("w")
    proc = subprocess.Popen(COMMAND, cwd=tmp_path, env=fleet_env(fleet), stdout=out,
                            stderr=subprocess.PIPE, text=True)
    out.close()
    assert proc.stderr is not None
    seen: list[str] = []
    while "wave canary: soaking" not in (seen[-1] if seen else ""):
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    return proc, seen


def _finish_first(tmp_path: Path, proc: subprocess.Popen[str], seen: list[str]) -> str:
    assert proc.stderr is not None
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, "".join(seen) + rest
    report = (tmp_path / "first.out").read_text()
    assert "Rollout complete: 3 of 3 waves passed." in report, report
    assert "not applied" not in report and "is locked" not in report + rest, report + rest
    assert "tolerated by max_failures" not in report, report
    return report


def _journal_plan_ids(tmp_path: Path) -> set[str]:
    ids: set[str] = set()
    for journal in (tmp_path / ".reconciler" / "state").rglob("*.journal*"):
        for line in journal.read_text().splitlines():
            ids.add(json.loads(line).get("plan_id", ""))
    return ids - {""}


def test_a_second_rollout_of_the_same_files_is_refused_whole(tmp_path: Path, fleet: Fleet) -> None:
    first, seen = _start_first(tmp_path, fleet)
    try:
        second = subprocess.run(COMMAND, cwd=tmp_path, env=fleet_env(fleet),
                                capture_output=True, text=True, timeout=120)
    finally:
        report = _finish_first(tmp_path, first, seen)
    assert second.returncode == 1, second.stdout + second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, second.stderr
    assert errors[0].startswith("error: nothing was applied: a rollout holds every cluster of"
                                " its plan, and cluster "), errors
    assert "is locked by" in errors[0] and "--lock-timeout" in errors[0]
    assert "wave canary: starting" not in second.stderr
    # The plan is shown; no report follows it.
    assert "Rollout complete" not in second.stdout and "Rollout halted" not in second.stdout
    assert "Apply " not in second.stdout, second.stdout
    assert "Traceback" not in second.stderr
    # Only the first run wrote to the journals.
    assert len(_journal_plan_ids(tmp_path)) == 1, report


def test_a_second_rollout_told_to_wait_finds_its_plan_stale(tmp_path: Path, fleet: Fleet) -> None:
    first, seen = _start_first(tmp_path, fleet)
    try:
        second = subprocess.run([*COMMAND, "--lock-timeout", "120"], cwd=tmp_path,
                                env=fleet_env(fleet), capture_output=True, text=True,
                                timeout=180)
    finally:
        _finish_first(tmp_path, first, seen)
    assert second.returncode == 1, second.stdout + second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, second.stderr
    assert errors[0].startswith("error: nothing was applied: while this rollout waited for the"
                                " locks of its clusters, another run changed them"), errors
    assert "wave canary: starting" not in second.stderr
    assert len(_journal_plan_ids(tmp_path)) == 1
    # Planned again, there is nothing left to do.
    again = subprocess.run(COMMAND, cwd=tmp_path, env=fleet_env(fleet), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
