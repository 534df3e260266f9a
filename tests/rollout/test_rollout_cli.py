"""``reconciler apply`` with waves as a user runs it: a real process, the emulator
on a real socket (with ``--rules`` faults, restarted without them), real state.

The ``rollout:`` block parses once the config branch lands; until then the
tests that need it are expected to fail (not strictly: they pass after it)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import serve_emulator

from reconciler.config import load_desired
from reconciler.emulator import Emulator
from reconciler.planfile import save_plan
from reconciler.run.plan import make_plan
from reconciler.statemgr.local import LocalBackend

from .rollout_helpers import (
    ALLOW_ENV,
    BAD_PROD_2,
    REST,
    SECRET,
    RecordingApp,
    desired_file,
    live_versions,
    new_emulator,
    session_for,
    waves,
)

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

FAST = ["--poll-interval", "0.05", "--soak-poll-interval", "0.2", "--auto-approve"]


def env_for(emu: Emulator) -> dict[str, str]:
    env = {**os.environ, "HW_ACCESS_KEY": emu.account.access_key,
           "HW_SECRET_KEY": emu.account.secret_key, "NO_COLOR": "1",
           "ROLLOUT_TOKEN": SECRET, "RECONCILER_ALLOW_ENV": "ROLLOUT_TOKEN"}
    env.pop("HW_AUTH_TOKEN", None)
    return env


def apply(emu: Emulator, url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", *args, "--endpoint", url, *FAST,
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, env=env_for(emu), cwd=tmp_path, timeout=120,
    )


def fleet(tmp_path: Path, *, pause: str = "none", soak: str = "1s") -> Path:
    """The six clusters with a three-wave ``rollout:`` block."""
    path = desired_file(tmp_path)
    block = {"rollout": {
        "waves": [{"name": "canary", "clusters": ["r-canary"], "soak": soak},
                  {"name": "prod", "clusters": ["r-prod-*"], "soak": soak, "max_parallel": 2},
                  {"name": "rest"}],
        "pause": pause,
    }}
    # Appended as text: a YAML round trip would unquote the file's Jinja expression.
    path.write_text(path.read_text() + yaml.safe_dump(block, sort_keys=False))
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Emulator, str]]:
    emu = new_emulator(tmp_path)
    with serve_emulator(emu) as url:
        yield emu, url


def test_wave_and_pause_need_a_rollout_block(tmp_path: Path,
                                            served: tuple[Emulator, str]) -> None:
    emu, url = served
    path = desired_file(tmp_path)
    done = apply(emu, url, tmp_path, str(path), "--wave", "prod")
    assert done.returncode == 1
    assert "--wave prod: there is no `rollout:` block" in done.stderr
    assert "Traceback" not in done.stderr
    done = apply(emu, url, tmp_path, str(path), "--pause")
    assert done.returncode == 1 and "--pause: there is no `rollout:` block" in done.stderr
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").iterdir())
    assert {v for v in live_versions(emu).values()} == {("1.3.60", "running")}


def test_unknown_wave_lists_the_waves(tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    done = apply(emu, url, tmp_path, str(fleet(tmp_path)), "--wave", "prdo")
    assert done.returncode == 1
    assert "--wave prdo: no such wave; the waves are: canary, prod, rest" in done.stderr
    assert {v for v in live_versions(emu).values()} == {("1.3.60", "running")}


def test_halt_at_the_failing_wave_then_resume_after_the_fix(tmp_path: Path) -> None:
    path = fleet(tmp_path)
    emu = new_emulator(tmp_path, rules=BAD_PROD_2)
    with serve_emulator(emu) as url:
        done = apply(emu, url, tmp_path, str(path), "--format", "json")
        assert done.returncode == 1, done.stderr
        document = json.loads(done.stdout)
        assert document["ok"] is False
        statuses = [w["status"] for w in document["rollout"]["waves"]]
        assert statuses == ["passed", "halted", "not started"]
        assert document["rollout"]["waves"][1]["failed"] == ["r-prod-2"]
        assert "wave prod: halted" in done.stderr
        assert [live_versions(emu)[n][0] for n in REST] == ["1.3.60"] * 2
        assert SECRET not in done.stdout + done.stderr

    emu = new_emulator(tmp_path)  # restarted without --rules
    with serve_emulator(emu) as url:
        done = apply(emu, url, tmp_path, str(path))
        assert done.returncode == 0, done.stderr
        assert "Rollout complete: 3 of 3 waves passed." in done.stdout
        assert {v for v in live_versions(emu).values()} == {("1.3.68", "running")}


def test_manual_pause_says_how_to_continue(tmp_path: Path,
                                          served: tuple[Emulator, str]) -> None:
    emu, url = served
    path = fleet(tmp_path, pause="manual", soak="0s")
    done = apply(emu, url, tmp_path, str(path))
    assert done.returncode == 0, done.stderr
    assert "Wave canary passed; rollout paused before wave prod." in done.stdout
    assert f"To continue with wave prod: reconciler apply {path}" in done.stdout
    assert live_versions(emu)["r-prod-1"][0] == "1.3.60"
    done = apply(emu, url, tmp_path, str(path), "--wave", "prod")
    assert done.returncode == 0, done.stderr
    assert "Wave prod passed" in done.stdout
    assert [live_versions(emu)[n][0] for n in REST] == ["1.3.60"] * 2


def test_a_saved_plan_follows_its_waves(tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    store = LocalBackend(tmp_path / "state")
    planfile = tmp_path / "fleet.plan.json"

    async def make() -> None:
        desired = load_desired([desired_file(tmp_path)], environ={"ROLLOUT_TOKEN": SECRET},
                               allowed_env=ALLOW_ENV)
        async with session_for(RecordingApp(emu)) as session:
            planned = await make_plan(desired, session, store)
        # The saved plan must point at the socket the CLI talks to.
        clusters = tuple(dataclasses.replace(c, endpoint=url) for c in planned.plan.clusters)
        save_plan(planfile, dataclasses.replace(planned.plan, clusters=clusters,
                                                rollout=waves(soak_s=0.2)),
                  salts=planned.salts)

    asyncio.run(make())
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", str(planfile), "--wave", "canary",
         "--poll-interval", "0.05", "--soak-poll-interval", "0.2",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**env_for(emu), "RECONCILER_ALLOWED_ENDPOINTS": url})  # the socket: the operator's
    assert done.returncode == 0, done.stderr
    assert "Wave canary passed; rollout stopped (--wave) before wave prod." in done.stdout
    assert f"reconciler plan {desired_file(tmp_path)} --out" in done.stdout
    live = live_versions(emu)
    assert live["r-canary"][0] == "1.3.68"
    assert {live[n][0] for n in live if n != "r-canary"} == {"1.3.60"}
