"""Our signed requests against the official SDK's ``Signer``, byte for byte.

Each request goes through our real sending path (``Sender`` over an
``httpx.MockTransport``); the SDK then signs an equivalent ``SdkRequest`` built
the way its client builds one (path parameters quoted whole, query as tuples,
``json.dumps`` body, ``Content-Type``/``User-Agent``/``X-Project-Id`` headers)
with the same ``X-Sdk-Date``. Authorization, wire URI and Host must match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from reconciler.cloud import Credentials
from reconciler.cloud.sender import ApiRequest, Limits, Sender, path
from reconciler.kit.signing import QueryValue, authorization_header
from tests.cloud.recorder import Recorder

AK = "EXAMPLEAK0000000000"
SK = "EXAMPLESK00000000000000000000000000000000"
PROJECT = "0123456789abcdef0123456789abcdef"
CLUSTER = "c0ffee00-1111-2222-3333-444455556666"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    query: tuple[tuple[str, QueryValue], ...] = ()
    body: Any = None
    endpoint: str = "https://cce.cn-north-4.myhuaweicloud.com"
    security_token: str = ""


CASES = [
    Case("list-addons", "GET", "/api/v3/addons", (("cluster_id", CLUSTER),)),
    Case(
        "templates-by-name", "GET", "/api/v3/addontemplates", (("addon_template_name", "coredns"),)
    ),
    Case("no-query", "GET", "/api/v3/addontemplates"),
    Case("space-in-value", "GET", "/api/v3/addons", (("q", "a b  c"),)),
    Case("slash-in-value", "GET", "/api/v3/addons", (("q", "a/b/c"),)),
    Case("non-ascii-value", "GET", "/api/v3/addons", (("name", "集群-ü"),)),
    Case("non-ascii-key", "GET", "/api/v3/addons", (("名前", "v"), ("a", "1"))),
    Case("unsorted-keys", "GET", "/api/v3/addons", (("z", "1"), ("a", "2"), ("m", "3"))),
    Case("repeated-key", "GET", "/api/v3/addons", (("k", "b"), ("k", "a"), ("k", "c"))),
    Case("reserved-chars", "GET", "/api/v3/addons", (("q", "~!*'()&=+$,;:@?#[]%"),)),
    Case("list-value", "GET", "/api/v3/addons", (("ids", ("b", "a", "c")),)),
    Case(
        "bool-value", "GET", f"/api/v3/projects/{PROJECT}/clusters/{CLUSTER}", (("detail", True),)
    ),
    Case("empty-value", "GET", "/api/v3/addons", (("x", ""),)),
    Case("space-in-path", "GET", path("/api/v3/addons/{id}", id="a b"), (("cluster_id", CLUSTER),)),
    Case("slash-in-path-param", "GET", path("/api/v3/addons/{id}", id="a/b")),
    Case(
        "non-ascii-path", "DELETE", path("/api/v3/addons/{id}", id="插件"), (("cluster_id", "ü"),)
    ),
    Case("trailing-slash", "GET", "/api/v3/addons/", (("cluster_id", CLUSTER),)),
    Case(
        "post-install",
        "POST",
        "/api/v3/addons",
        body={
            "kind": "Addon",
            "apiVersion": "v3",
            "metadata": {"annotations": {"addon.install/type": "install"}},
            "spec": {"clusterID": CLUSTER, "values": {"custom": {"note": "中文 ü", "n": 1.5}}},
        },
    ),
    Case("post-empty-object", "POST", "/api/v3/addons/x/operation/rollback", body={}),
    Case("post-no-body", "POST", "/api/v3/addons/x/operation/rollback"),
    Case("put-body", "PUT", path("/api/v3/addons/{id}", id="i-1"), body={"spec": {"values": None}}),
    Case("delete", "DELETE", path("/api/v3/addons/{id}", id="i-1"), (("cluster_id", CLUSTER),)),
    Case("patch-list-body", "PATCH", "/api/v3/addons", body=[1, "two", {"three": [True, None]}]),
    Case("head", "HEAD", "/api/v3/addons", (("cluster_id", CLUSTER),)),
    Case(
        "port-in-host",
        "GET",
        "/api/v3/addons",
        (("cluster_id", "c"),),
        endpoint="http://127.0.0.1:8443",
    ),
    Case(
        "base-path", "GET", "/api/v3/addons", (("c", "d"),), endpoint="https://gw.example.com/cce"
    ),
    Case(
        "security-token", "GET", "/api/v3/addons", (("cluster_id", "c"),), security_token="tmp-tok"
    ),
    Case(
        "post-precheck",
        "POST",
        f"/api/v3/projects/{PROJECT}/clusters/{CLUSTER}/addons/precheck",
        body={"kind": "AddonCheck", "spec": {"addonList": [{"addonTemplateName": "coredns"}]}},
    ),
]


def _sdk_sign(case: Case, wire: httpx.Request) -> SdkRequest:
    """Sign as the SDK client would: its header set, then ``Signer.sign``."""
    url = httpx.URL(case.endpoint)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": wire.headers["User-Agent"],
        "X-Sdk-Date": wire.headers["X-Sdk-Date"],
        # BasicCredentials.sign_request adds these before handing over to Signer
        "X-Project-Id": PROJECT,
    }
    if case.security_token:
        headers["X-Security-Token"] = case.security_token
    request = SdkRequest(
        method=case.method,
        schema=url.scheme,
        host=url.netloc.decode(),
        resource_path=url.raw_path.decode().rstrip("/") + case.path,
        query_params=[(k, list(v) if isinstance(v, tuple) else v) for k, v in case.query],
        header_params=headers,
        body=None if case.body is None else json.dumps(case.body),
    )
    return Signer(BasicCredentials(AK, SK, PROJECT)).sign(request)


async def _send(case: Case) -> httpx.Request:
    recorder = Recorder()
    credentials = Credentials(access_key=AK, secret_key=SK, security_token=case.security_token)
    async with httpx.AsyncClient(transport=recorder.transport) as http:
        sender = Sender(http, case.endpoint, credentials, PROJECT, Limits())
        await sender.send(ApiRequest(case.method, case.path, case.query, case.body))
    (wire,) = recorder.requests
    return wire


def test_there_are_at_least_twenty_varied_cases() -> None:
    assert len(CASES) >= 20
    assert {c.method for c in CASES} >= {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_authorization_is_byte_identical_to_the_sdk_signer(case: Case) -> None:
    wire = await _send(case)
    sdk = _sdk_sign(case, wire)

    assert wire.headers["Authorization"] == sdk.header_params["Authorization"]
    # what was signed is what was sent
    assert wire.url.raw_path.decode() == sdk.uri
    assert wire.headers["Host"] == sdk.header_params["Host"]
    assert wire.headers["X-Project-Id"] == PROJECT
    assert wire.content == (sdk.body or b"")
    assert "X-Auth-Token" not in wire.headers
    if case.security_token:
        assert wire.headers["X-Security-Token"] == case.security_token


def test_the_reference_worked_example() -> None:
    """REFERENCE §4: the documented inputs give the documented signature."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "Host": "cce.cn-north-4.myhuaweicloud.com",
        "X-Project-Id": PROJECT,
        "X-Sdk-Date": "20240102T030405Z",
    }
    value = authorization_header(
        AK, SK, "GET", "/api/v3/addons", [("cluster_id", CLUSTER)], headers, b""
    )
    assert value == (
        f"SDK-HMAC-SHA256 Access={AK}, "
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        "Signature=3888e79c58ad033cd29cd8cca6b128e89b0249610e5a8f9a9216c94a2ef13024"
    )


async def test_token_mode_sends_the_token_and_no_signature() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=recorder.transport) as http:
        sender = Sender(http, CASES[0].endpoint, Credentials(token="iam-token"), PROJECT, Limits())
        await sender.send(ApiRequest("GET", "/api/v3/addons", (("cluster_id", CLUSTER),)))
    (wire,) = recorder.requests
    assert wire.headers["X-Auth-Token"] == "iam-token"
    assert "Authorization" not in wire.headers
    assert "X-Sdk-Date" not in wire.headers
    assert wire.headers["Content-Type"] == "application/json"
