"""Credentials: where they come from, and that they never leak into reprs,
exception messages or log records."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from reconciler.cloud import CloudError, CloudSession, Credentials, RetryPolicy
from tests.cloud.recorder import Recorder, json_response

AK = "AKLEAKCHECK0000000001"
SK = "SKLEAKCHECK000000000000000000000000000002"
TOKEN = "TOKENLEAKCHECK0000000003"
SECRETS = (AK, SK, TOKEN)


def test_from_env_reads_the_hw_variables() -> None:
    creds = Credentials.from_env(
        {
            "HW_ACCESS_KEY": AK,
            "HW_SECRET_KEY": SK,
            "HW_PROJECT_ID": "proj",
            "HW_REGION_NAME": "cn-north-4",
        }
    )
    assert creds is not None
    assert (creds.access_key, creds.secret_key) == (AK, SK)
    assert (creds.project_id, creds.region) == ("proj", "cn-north-4")
    assert creds.uses_signature


def test_from_env_falls_back_to_cloud_sdk_variables() -> None:
    creds = Credentials.from_env({"CLOUD_SDK_AK": AK, "CLOUD_SDK_SK": SK})
    assert creds is not None and creds.access_key == AK and creds.secret_key == SK


def test_from_env_token_only() -> None:
    creds = Credentials.from_env({"HW_AUTH_TOKEN": TOKEN, "HW_PROJECT_ID": "p"})
    assert creds is not None and creds.token == TOKEN and not creds.uses_signature


def test_from_env_nothing_or_half_a_key_pair() -> None:
    assert Credentials.from_env({}) is None
    assert Credentials.from_env({"HW_ACCESS_KEY": AK}) is None
    half = Credentials.from_env({"HW_ACCESS_KEY": AK, "HW_AUTH_TOKEN": TOKEN})
    assert half is not None and not half.uses_signature


def test_explicit_credentials_must_be_complete() -> None:
    with pytest.raises(ValueError, match="secret key"):
        Credentials(access_key=AK)
    with pytest.raises(ValueError, match="token"):
        Credentials()


def test_repr_and_str_hide_secrets() -> None:
    creds = Credentials(access_key=AK, secret_key=SK, token=TOKEN, project_id="proj")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert not any(s in text for s in SECRETS)
        assert "proj" in text


async def test_secrets_absent_from_errors_logs_and_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    steps = [
        json_response(
            401, {"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication"}
        ),
        json_response(500, {"errorCode": "CCE.03500001"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        json_response(429, {}, {"Retry-After": "0"}),
    ]
    texts: list[str] = []
    for creds in (Credentials(access_key=AK, secret_key=SK), Credentials(token=TOKEN)):
        for step in steps:
            recorder = Recorder([step])
            async with CloudSession(
                credentials=creds,
                transport=recorder.transport,
                retry=RetryPolicy(max_attempts=2, base_delay_s=0.001),
            ) as session:
                client = session.client("https://cce.example", "r", "p")
                texts += [repr(session), repr(client)]
                with pytest.raises(CloudError) as caught:
                    await client.install("c", "coredns", "1.0", {"custom": {}})
                err = caught.value
                texts += [str(err), repr(err), *traceback.format_exception(err)]
            # the secrets did go on the wire (so the test can fail if they leak)
            wire = recorder.requests[0]
            assert (
                AK in wire.headers.get("Authorization", "")
                or wire.headers.get("X-Auth-Token") == TOKEN
            )
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    assert caplog.records, "the client logs its requests"
    for text in texts:
        assert not any(s in text for s in SECRETS), text


def test_session_without_any_credentials_says_how_to_provide_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK", "HW_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    session = CloudSession()
    with pytest.raises(CloudError, match="HW_ACCESS_KEY"):
        session.client("https://cce.example", "r", "p")
