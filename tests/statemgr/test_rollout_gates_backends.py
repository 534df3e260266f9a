"""The rollout's open-gate marker lives in the journal: on every backend a run
cancelled while its canary soaks leaves the canary open, and the next run soaks
it again and closes it (docs/rollout.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rollout.rollout_helpers import (
    RecordingApp,
    desired_file,
    live_versions,
    new_emulator,
    run_rollout,
    wave,
    waves,
)

from reconciler.model.rollout_result import SoakOutcome
from reconciler.run.rollout import pending_gate
from tests.statemgr.conftest import Target


@pytest.mark.parametrize("target", ["local", "s3", "postgres"], indirect=True)
async def test_an_interrupted_soak_is_reopened_on_every_backend(
    target: Target, tmp_path: Path,
) -> None:
    store = target.open()
    path = desired_file(tmp_path)
    app = RecordingApp(new_emulator(tmp_path))
    run = asyncio.ensure_future(run_rollout(app, store, path, waves(soak_s=60.0)))
    while live_versions(app.emu)["r-canary"] != ("1.3.68", "running") \
            or not await asyncio.to_thread(store.read_journal, "r-canary"):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert pending_gate(store.read_journal("r-canary")) == ("metrics-server",)

    result, log = await run_rollout(app, store, path, waves(soak_s=0.2), until_wave="canary")
    assert result.ok, log
    assert wave(result, "canary").soak is SoakOutcome.PASSED
    assert pending_gate(store.read_journal("r-canary")) == ()
