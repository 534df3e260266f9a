"""Waiting for health: abnormal past its grace period fails with Reason and
message, a failed status fails at once, a deleted instance ends the delete wait."""

from __future__ import annotations

import time

import httpx
import pytest
import yaml

from reconciler.apply.waiting import AddonFailure, WaitPolicy, wait_deleted, wait_healthy
from reconciler.cloud import CceClient, CloudSession
from reconciler.emulator import Emulator
from reconciler.emulator.scenario import scenario_from_mapping

from .apply_helpers import FAST_RETRY, MAIN_ID, SCENARIO, TIME_SCALE, credentials

ABNORMAL = "2c000000-0000-4000-8000-00000000000a"
FAILED = "2c000000-0000-4000-8000-00000000000b"
POLICY = WaitPolicy(timeout_s=5, poll_interval_s=0.05, abnormal_grace_s=0.3)


def emulator() -> Emulator:
    data = yaml.safe_load(SCENARIO.read_text())
    data["instances"] += [
        {"id": ABNORMAL, "cluster": "t-main", "template": "volcano", "version": "1.15.8",
         "status": "abnormal"},
        {"id": FAILED, "cluster": "t-main", "template": "autoscaler", "version": "1.29.17",
         "status": "installFailed"},
    ]
    return Emulator(scenario_from_mapping(data, str(SCENARIO)), time_scale=TIME_SCALE)


def client(session: CloudSession, emu: Emulator) -> CceClient:
    return session.client("https://cce.ap-southeast-1.myhuaweicloud.com", "ap-southeast-1",
                          emu.account.project_id)


def session_for(emu: Emulator) -> CloudSession:
    return CloudSession(credentials=credentials(emu), retry=FAST_RETRY,
                        transport=httpx.ASGITransport(app=emu.app))


async def test_abnormal_fails_after_the_grace_period_not_before() -> None:
    emu = emulator()
    async with session_for(emu) as session:
        started = time.monotonic()
        with pytest.raises(AddonFailure, match=r"stayed abnormal for 0\.3s") as caught:
            await wait_healthy(client(session, emu), MAIN_ID, ABNORMAL, POLICY)
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2
    assert caught.value.status == "abnormal"


async def test_a_failed_status_fails_at_once() -> None:
    emu = emulator()
    async with session_for(emu) as session:
        started = time.monotonic()
        with pytest.raises(AddonFailure, match="status installFailed"):
            await wait_healthy(client(session, emu), MAIN_ID, FAILED, POLICY)
    assert time.monotonic() - started < 0.3


async def test_timeout_names_the_last_status() -> None:
    emu = emulator()
    policy = WaitPolicy(timeout_s=5, poll_interval_s=0.05, abnormal_grace_s=60)
    async with session_for(emu) as session:
        with pytest.raises(AddonFailure, match=r"within 0.2s \(status abnormal\)"):
            await wait_healthy(client(session, emu), MAIN_ID, ABNORMAL, policy, timeout_s=0.2)


async def test_delete_waits_for_404() -> None:
    emu = emulator()
    async with session_for(emu) as session:
        cce = client(session, emu)
        await cce.delete(ABNORMAL, MAIN_ID)
        await wait_deleted(cce, MAIN_ID, ABNORMAL, POLICY)
    assert ABNORMAL not in {i.id for i in emu.store.list_instances(MAIN_ID, time.time())}
