"""The plan benchmark still runs end to end (slow: ``pytest -m slow``): a tiny
fleet, the plain and the throttled mode, every target line printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).with_name("plan_bench.py")


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_plain_mode_prints_every_target() -> None:
    out = _run("20", "--sdk-sample", "3")
    for figure in ("plan wall", "CPU per request", "compare CPU", "peak memory", "official SDK"):
        assert figure in out
    assert "changes found    0 (expected 0), errors 0 met" in out
    assert out.rstrip().endswith(("all targets met", "NOT all targets met"))


@pytest.mark.slow
def test_throttled_mode_answers_each_read_once() -> None:
    out = _run("10", "--throttle", "20")
    assert out.count("each read answered once: met") == 2  # --rate-limit and adaptive
    assert "--rate-limit wall" in out and "adaptive" in out
