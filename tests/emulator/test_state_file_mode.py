"""The emulator's persisted state holds the values clients sent (secrets too):
owner-only file, and directories it creates are not writable by others.

Run under umask 0, where a default ``mkdir`` would give a world-writable
directory, so the modes come from the code and not from the caller's umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cloud import CloudSession
from reconciler.emulator import Emulator, demo_scenario_path, load_scenario
from tests.conftest import FakeClock
from tests.emulator.sdk_helpers import LEGACY

INSTALL = {
    "kind": "Addon",
    "apiVersion": "v3",
    "metadata": {"annotations": {"addon.install/type": "install"}},
    "spec": {"clusterID": LEGACY, "version": "1.12.9", "addonTemplateName": "volcano",
             "values": {}},
}


LEGACY_NPD = "b418c6ba-4368-11f0-ba56-0255ac100037"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


async def _write_through(emu: Emulator, delete: bool = False) -> None:
    """One mutating request, which makes the emulator save its state."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app),
                                 base_url="http://cce.ap-southeast-1.myhuaweicloud.com",
                                 headers={"X-Auth-Token": emu.account.token}) as client:
        if delete:
            response = await client.delete(f"/api/v3/addons/{LEGACY_NPD}")
        else:
            response = await client.post("/api/v3/addons", json=INSTALL)
    assert response.status_code < 300, response.text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
async def test_state_file_is_owner_only_in_private_new_directories(tmp_path: Path) -> None:
    state = tmp_path / "made" / "by-emulator" / "emu.json"
    await _write_through(Emulator(load_scenario(demo_scenario_path()), clock=FakeClock(),
                                  state_file=state))
    assert _mode(state) == 0o600
    for directory in (state.parent, state.parent.parent):
        assert _mode(directory) == 0o700, directory
    # Rewritten over an existing, more open file: still owner-only (rename of a 0600 temp).
    state.chmod(0o666)
    await _write_through(Emulator(load_scenario(demo_scenario_path()), clock=FakeClock(),
                                  state_file=state), delete=True)
    assert _mode(state) == 0o600


@pytest.mark.usefixtures("permissive_umask")
async def test_emulator_endpoint_state_under_dot_reconciler(tmp_path: Path) -> None:
    """``emulator://demo`` as the CLI opens it: state under ``<state root>/emulator/``."""
    root = tmp_path / ".reconciler"
    root.mkdir(mode=0o755)
    services = EmulatorServices(root)
    async with CloudSession(in_process=services) as session:
        session.client("emulator://demo", "", "")
        await _write_through(services.started["demo"])
    state = root / "emulator" / "demo.json"
    assert _mode(state) == 0o600
    assert _mode(state.parent) == 0o700
