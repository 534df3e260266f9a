"""What the client logs per attempt (``-v`` shows INFO, ``-vv`` DEBUG): each
answer and each failure with its fields, and each retry with its wait."""

from __future__ import annotations

import logging

import pytest

from reconciler.cloud import CloudError, CloudSession, Credentials, RetryPolicy, TransportError
from reconciler.cloud.transport import InProcessTransport
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from tests.conftest import FakeClock

PROD = "6b400e1c-4368-11f0-ba56-0255ac100037"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)


def _emulator() -> Emulator:
    return Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())


def _session(emulator: Emulator) -> CloudSession:
    account = emulator.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key)
    return CloudSession(credentials=credentials, retry=RETRY,
                        transport=InProcessTransport(emulator.app))


async def test_each_attempt_and_retry_is_logged_with_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = _emulator()
    emulator.faults.throttle_rate = 1.0
    emulator.faults.retry_after_s = 0
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    async with _session(emulator) as session:
        client = session.client("http://cce.local", "ap-southeast-1", emulator.account.project_id)
        with pytest.raises(CloudError):
            await client.list_instances(PROD)
    answers = [r for r in caplog.records if getattr(r, "status", None) == 429]
    assert [r.attempt for r in answers] == [1, 2, 3]
    for record in answers:
        assert record.method == "GET"
        assert record.path == f"/api/v3/addons?cluster_id={PROD}"
        assert record.request_id
        assert record.duration_ms >= 0
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2 and "HTTP 429" in retries[0] and "retry 1/2" in retries[0]


async def test_a_failed_attempt_without_an_answer_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = _emulator()
    emulator.faults.drop_rate = 1.0
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    async with _session(emulator) as session:
        client = session.client("http://cce.local", "ap-southeast-1", emulator.account.project_id)
        with pytest.raises(TransportError):
            await client.list_instances(PROD)
    failed = [r for r in caplog.records if getattr(r, "error", None)]
    assert [r.attempt for r in failed] == [1, 2, 3]
    assert "connection to cce.local:80 failed" in failed[0].getMessage()


async def test_bodies_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    emulator = _emulator()
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    async with _session(emulator) as session:
        client = session.client("http://cce.local", "ap-southeast-1", emulator.account.project_id)
        await client.list_instances(PROD)
        assert not any("body" in r.getMessage() for r in caplog.records)
        caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
        await client.list_instances(PROD)
    assert any("response body" in r.getMessage() for r in caplog.records)
