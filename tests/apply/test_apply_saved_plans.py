"""Saved plans in-process: exact execution, staleness, and secrets re-read from
the environment and checked against the plan's salted hashes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from builders.desired import secret

from reconciler.emulator import Emulator
from reconciler.planfile import load_plan, save_plan
from reconciler.run.apply import apply_plan, stale_plan_reasons
from reconciler.statemgr.local import LocalBackend
from reconciler.views.progress import LogProgress

from .apply_helpers import (
    MAIN_ID,
    desired_file,
    live,
    new_emulator,
    options,
    plan,
    plan_and_apply,
    session_for,
)

SECRET = "first-Secret-Value-42"
BASE: dict[str, dict[str, Any]] = {"metrics-server": {}}
WITH_SECRET = {
    **BASE,
    "autoscaler": {"values": {"custom": {"password": secret("AUTOSCALER_PASSWORD")}}},
}


async def _saved_plan(tmp_path: Path) -> tuple[Emulator, LocalBackend, Path]:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    async with session_for(emu) as session:
        # A first apply gives the cluster a state, whose salt the plan uses.
        await plan_and_apply(session, store, desired_file(tmp_path, BASE))
        planned = await plan(session, store, desired_file(tmp_path, WITH_SECRET, name="s.yaml"),
                             environ={"AUTOSCALER_PASSWORD": SECRET})
    planfile = tmp_path / "plan.json"
    save_plan(planfile, planned.plan, salts=planned.salts)
    assert SECRET not in planfile.read_text()
    return emu, store, planfile


async def test_saved_plan_with_a_secret_applies_with_the_same_secret(tmp_path: Path) -> None:
    emu, store, planfile = await _saved_plan(tmp_path)
    saved = load_plan(planfile)
    environ = {"AUTOSCALER_PASSWORD": SECRET}
    async with session_for(emu) as session:
        assert await stale_plan_reasons(saved, session, store, environ=environ) == []
        log = io.StringIO()
        result = await apply_plan(saved, session, store, salts={},
                                  options=options(environ=environ), progress=LogProgress(log))
    assert result.ok, log.getvalue()
    instance = next(i for i in emu.store.list_instances(MAIN_ID, 1e12)
                    if i.template == "autoscaler")
    assert instance.values["custom"]["password"] == SECRET
    assert SECRET not in (tmp_path / "state" / "t-main.json").read_text()


async def test_saved_plan_is_stale_when_the_secret_changed_or_is_missing(tmp_path: Path) -> None:
    emu, store, planfile = await _saved_plan(tmp_path)
    saved = load_plan(planfile)
    async with session_for(emu) as session:
        changed = await stale_plan_reasons(saved, session, store,
                                           environ={"AUTOSCALER_PASSWORD": "another"})
        missing = await stale_plan_reasons(saved, session, store, environ={})
        # Under the lock, apply checks again and refuses the cluster.
        result = await apply_plan(saved, session, store, salts={},
                                  options=options(environ={"AUTOSCALER_PASSWORD": "x"}),
                                  progress=LogProgress(io.StringIO()))
    assert changed == ["cluster t-main: autoscaler: the secret AUTOSCALER_PASSWORD"
                       " (for custom.password) changed since the plan"]
    assert missing == ["cluster t-main: autoscaler: the secret AUTOSCALER_PASSWORD"
                       " (for custom.password) is not set in the environment"]
    assert result.clusters[0].error.startswith("plan is stale: ")
    assert "autoscaler" not in live(emu, MAIN_ID)


async def test_saved_plan_is_stale_after_another_apply(tmp_path: Path) -> None:
    emu, store, planfile = await _saved_plan(tmp_path)
    saved = load_plan(planfile)
    environ = {"AUTOSCALER_PASSWORD": SECRET}
    async with session_for(emu) as session:
        # Someone else applies the same change first.
        await plan_and_apply(session, store, tmp_path / "s.yaml", environ=environ)
        reasons = await stale_plan_reasons(saved, session, store, environ=environ)
    assert reasons[0].startswith("cluster t-main: the state was written since the plan (serial 1")
    assert "its live add-ons changed since the plan" in reasons[1]


async def test_first_run_saved_plan_checks_secrets_and_keeps_its_salt_out_of_the_state(
    tmp_path: Path,
) -> None:
    # No state yet: the plan's salt travels in the plan file, so it is a slow
    # one, and the state gets a salt of its own that no plan file ever holds.
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    async with session_for(emu) as session:
        planned = await plan(session, store, desired_file(tmp_path, WITH_SECRET, name="s.yaml"),
                             environ={"AUTOSCALER_PASSWORD": SECRET})
    planfile = tmp_path / "plan.json"
    save_plan(planfile, planned.plan, salts=planned.salts)
    saved = load_plan(planfile)
    assert saved.clusters[0].state_lineage == ""
    assert saved.clusters[0].salt == planned.salts["t-main"]
    assert saved.clusters[0].salt.startswith("kdf:")

    environ = {"AUTOSCALER_PASSWORD": SECRET}
    async with session_for(emu) as session:
        changed = await stale_plan_reasons(saved, session, store,
                                           environ={"AUTOSCALER_PASSWORD": "another"})
        fresh = await stale_plan_reasons(saved, session, store, environ=environ)
        result = await apply_plan(saved, session, store,
                                  salts={cp.name: cp.salt for cp in saved.clusters},
                                  options=options(environ=environ),
                                  progress=LogProgress(io.StringIO()))
    assert changed == ["cluster t-main: autoscaler: the secret AUTOSCALER_PASSWORD"
                       " (for custom.password) changed since the plan"]
    assert fresh == []
    assert result.ok
    state = store.read("t-main")
    assert state is not None and state.salt
    assert state.salt != saved.clusters[0].salt and not state.salt.startswith("kdf:")
    assert state.salt not in planfile.read_text(encoding="utf-8")
