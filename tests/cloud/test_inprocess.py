"""The seam between the client and an in-process server: dropped connections
look like a cut socket, proxies are found without httpx internals, and the
cloud layer loads no emulator code of its own."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from reconciler.cloud import CloudSession, Credentials, RetryPolicy, TransportError
from reconciler.cloud.transport import InProcessTransport, KeepAliveTransport, default_transport
from reconciler.emulator import DroppedConnection, Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from tests.conftest import FakeClock

PROD = "6b400e1c-4368-11f0-ba56-0255ac100037"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)


def _dropping_emulator() -> Emulator:
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())
    emulator.faults.drop_rate = 1.0
    return emulator


async def test_a_dropped_connection_is_a_remote_protocol_error_chained() -> None:
    emulator = _dropping_emulator()
    async with httpx.AsyncClient(transport=InProcessTransport(emulator.app),
                                 base_url="http://cce.local") as client:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await client.get("/api/v3/projects/p/clusters",
                             headers={"X-Auth-Token": emulator.account.token})
    assert isinstance(caught.value.__cause__, DroppedConnection)


async def test_dropped_connections_are_retried_then_a_transport_error() -> None:
    """As over a socket: every attempt counted, reads not ambiguous, POSTs ambiguous."""
    emulator = _dropping_emulator()
    account = emulator.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key)
    async with CloudSession(credentials=credentials, retry=RETRY,
                            transport=InProcessTransport(emulator.app)) as session:
        client = session.client("http://cce.local", "ap-southeast-1", account.project_id)
        with pytest.raises(TransportError) as caught:
            await client.list_instances(PROD)
        assert session.request_count == RETRY.max_attempts and not caught.value.ambiguous
        with pytest.raises(TransportError) as caught:
            await client.install(PROD, "npd", "1.0.0", {})
        assert caught.value.ambiguous
    assert emulator.request_count == session.request_count


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_configured_proxy_falls_back_to_httpx(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(default_transport(4), KeepAliveTransport)
    monkeypatch.setenv("NO_PROXY", "example.com")  # a bypass list alone routes nothing
    assert isinstance(default_transport(4), KeepAliveTransport)
    monkeypatch.setenv(variable, "http://proxy.example:3128")
    assert default_transport(4) is None


def test_the_cloud_layer_loads_no_emulator() -> None:
    code = ("import sys, reconciler.cloud; "
            "print(sorted(m for m in sys.modules if m.startswith('reconciler.emulator')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
