"""A captured AK/SK-signed request replayed with another body is refused.

The request is captured from our real client (``Sender`` over a recording
transport), then sent to the emulator as captured and tampered with. The SDK
side of the contract (a signed ``UNSIGNED-PAYLOAD`` for non-JSON bodies) is
signed by the official ``huaweicloudsdkcore`` signer.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from reconciler.cloud import Credentials
from reconciler.cloud.sender import ApiRequest, Limits, Sender
from reconciler.emulator import Emulator, demo_scenario_path, load_scenario
from reconciler.kit.signing import authorization_header
from tests.cloud.recorder import Recorder
from tests.conftest import FakeClock
from tests.emulator.sdk_helpers import LEGACY

HOST = "cce.ap-southeast-1.myhuaweicloud.com"
ENDPOINT = f"https://{HOST}"


def _install(template: str, version: str) -> dict[str, Any]:
    return {
        "kind": "Addon",
        "apiVersion": "v3",
        "metadata": {"annotations": {"addon.install/type": "install"}},
        "spec": {"clusterID": LEGACY, "version": version, "addonTemplateName": template,
                 "values": {}},
    }


ORIGINAL = _install("volcano", "1.12.9")
TAMPERED = json.dumps(_install("npd", "1.19.1")).encode()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())


async def _capture(emu: Emulator, body: Any) -> httpx.Request:
    """The wire request our client signs for ``POST /api/v3/addons`` with ``body``."""
    acc = emu.account
    recorder = Recorder()
    credentials = Credentials(access_key=acc.access_key, secret_key=acc.secret_key,
                              project_id=acc.project_id)
    async with httpx.AsyncClient(transport=recorder.transport) as http:
        sender = Sender(http, ENDPOINT, credentials, acc.project_id, Limits())
        await sender.send(ApiRequest("POST", "/api/v3/addons", (), body))
    (wire,) = recorder.requests
    return wire


async def _send(emu: Emulator, headers: dict[str, str], body: bytes) -> httpx.Response:
    """POST ``body`` with exactly ``headers`` (but a Content-Length that fits the body)."""
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app),
                                 base_url=ENDPOINT) as client:
        return await client.post("/api/v3/addons", headers=headers, content=body)


def _assert_refused(response: httpx.Response, why: str) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"] == "APIG.0301"
    assert why in body["error_msg"]
    assert body["request_id"] == response.headers["x-request-id"]


async def test_replay_with_another_body_is_refused(emulator: Emulator) -> None:
    wire = await _capture(emulator, ORIGINAL)
    headers = dict(wire.headers)
    assert "x-sdk-content-sha256" not in headers

    _assert_refused(await _send(emulator, headers, TAMPERED), "signature mismatch")
    # The attack: claim the original body's hash in a header the signature does not cover.
    claimed = {**headers, "X-Sdk-Content-Sha256": hashlib.sha256(wire.content).hexdigest()}
    _assert_refused(await _send(emulator, claimed, TAMPERED), "signature mismatch")
    unsigned = {**headers, "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    _assert_refused(await _send(emulator, unsigned, TAMPERED), "signature mismatch")

    accepted = await _send(emulator, headers, wire.content)
    assert accepted.status_code == 201
    assert accepted.json()["spec"]["addonTemplateName"] == "volcano"
    names = {i.template for i in emulator.store.instances.values() if i.cluster_id == LEGACY}
    assert "volcano" in names


def _signed_with_content_sha(emu: Emulator, claimed: str, body: bytes) -> dict[str, str]:
    """Headers signed with ``X-Sdk-Content-Sha256: claimed`` among the SignedHeaders."""
    acc = emu.account
    headers = {
        "Content-Type": "application/json",
        "Host": HOST,
        "X-Project-Id": acc.project_id,
        "X-Sdk-Content-Sha256": claimed,
        "X-Sdk-Date": _now(),
    }
    headers["Authorization"] = authorization_header(
        acc.access_key, acc.secret_key, "POST", "/api/v3/addons", [], headers, body)
    assert "x-sdk-content-sha256" in headers["Authorization"]
    return headers


def _now() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


async def test_signed_content_hash_must_be_the_body_hash(emulator: Emulator) -> None:
    original = json.dumps(ORIGINAL).encode()
    headers = _signed_with_content_sha(emulator, hashlib.sha256(original).hexdigest(), original)
    _assert_refused(await _send(emulator, headers, TAMPERED),
                    "X-Sdk-Content-Sha256 is not the SHA-256 of the body")
    assert (await _send(emulator, headers, original)).status_code == 201


async def test_signed_unsigned_payload_is_accepted_as_the_gateway_does(
    emulator: Emulator,
) -> None:
    """The official SDK signs ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` for non-JSON
    bodies; the gateway accepts it, so the emulator must reach the routing (a 400
    for the body, not a 401)."""
    acc = emulator.account
    request = SdkRequest(
        method="POST", schema="https", host=HOST, resource_path="/api/v3/addons",
        query_params=[], header_params={"Content-Type": "text/plain",
                                        "X-Project-Id": acc.project_id},
        body="not json")
    signed = Signer(BasicCredentials(acc.access_key, acc.secret_key, acc.project_id)).sign(
        request)
    assert signed.header_params["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    response = await _send(emulator, dict(signed.header_params), b"not json")
    assert response.status_code == 400
