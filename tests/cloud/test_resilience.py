"""Retries, backoff, rate limit, concurrency and error mapping, driven by exact
fault sequences over ``httpx.MockTransport`` (the emulator tests cover the
same ground with its random fault injection)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reconciler.cloud import (
    AuthenticationError,
    CceClient,
    CloudSession,
    ConflictError,
    Credentials,
    InvalidRequestError,
    NotFoundError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconciler.cloud.retry import parse_retry_after
from reconciler.kit.tokenbucket import TokenBucket
from tests.cloud.recorder import Recorder, Step, json_response

CLUSTER = "c0ffee00-1111-2222-3333-444455556666"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.005)
INSTANCE_BODY = {
    "metadata": {"uid": "i-1", "name": "coredns"},
    "spec": {"clusterID": CLUSTER, "addonTemplateName": "coredns", "version": "1.0"},
    "status": {"status": "installing"},
}
OK_LIST = json_response(200, {"items": [INSTANCE_BODY]})
REAL_400 = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "code": 400,
    "errorCode": "CCE.03400001",
    "errorMessage": "Invalid request.",
    "error": {"message": "custom values are not defined", "code": "SVCSTG.CCE-ADDONMGR.4000002"},
    "message": "custom values are not defined",
    "reason": "BadRequest",
}


class Harness:
    def __init__(self, steps: list[Step], **session_args: object) -> None:
        self.recorder = Recorder(steps)
        args: dict[str, object] = {"retry": FAST, **session_args}
        self.session = CloudSession(
            credentials=Credentials(access_key="ak", secret_key="sk"),
            transport=self.recorder.transport,
            **args,
        )

    @property
    def client(self) -> CceClient:
        return self.session.client("https://cce.example", "r", "p")

    @property
    def sent(self) -> int:
        return len(self.recorder.requests)


async def test_get_retries_through_429_storm_then_succeeds() -> None:
    throttled = json_response(429, {"error_code": "APIG.0308"}, {"Retry-After": "0"})
    h = Harness([throttled, throttled, throttled, OK_LIST])
    (instance,) = await h.client.list_instances(CLUSTER)
    assert instance.uid == "i-1"
    assert h.sent == 4 and h.session.request_count == 4


async def test_get_gives_up_after_max_attempts_with_typed_error_and_cause() -> None:
    h = Harness(
        [
            json_response(
                503, {"error_code": "CCE.03500001", "error_msg": "busy"}, {"X-Request-Id": "rq-9"}
            )
        ]
    )
    with pytest.raises(ServerError) as caught:
        await h.client.list_instances(CLUSTER)
    err = caught.value
    assert h.sent == FAST.max_attempts
    assert (err.status, err.code, err.request_id, err.ambiguous) == (
        503,
        "CCE.03500001",
        "rq-9",
        False,
    )
    assert "busy" in str(err) and "GET /api/v3/addons" in str(err)
    assert isinstance(err.__cause__, httpx.HTTPStatusError)


async def test_throttled_error_when_429_never_stops() -> None:
    h = Harness([json_response(429, {"errorCode": "CCE.02429001"}, {"Retry-After": "0"})])
    with pytest.raises(ThrottledError) as caught:
        await h.client.get_cluster(CLUSTER)
    assert caught.value.code == "CCE.02429001" and h.sent == FAST.max_attempts


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["connect", "read-timeout", "dropped"],
)
async def test_idempotent_calls_retry_transport_faults(fault: Exception) -> None:
    h = Harness([fault, fault, json_response(200, {"metadata": {"uid": CLUSTER}})])
    cluster = await h.client.get_cluster(CLUSTER)
    assert cluster.id == CLUSTER and h.sent == 3


async def test_put_and_delete_are_not_repeated_blindly_after_a_5xx() -> None:
    # A repeat would meet the operation the first one started (400 "is
    # upgrading"): the caller looks at the instance first (apply/ambiguous.py).
    h = Harness([json_response(500, {}), json_response(200, INSTANCE_BODY)])
    with pytest.raises(ServerError) as caught:
        await h.client.update("i-1", CLUSTER, "coredns", "1.1", {}, upgrade=True)
    assert h.sent == 1 and caught.value.ambiguous
    assert f"get_instance('i-1', {CLUSTER!r})" in str(caught.value)
    h = Harness([json_response(502, {}), httpx.Response(200, text="success")])
    with pytest.raises(ServerError) as caught:
        await h.client.delete("i-1", CLUSTER)
    assert [r.method for r in h.recorder.requests] == ["DELETE"] and caught.value.ambiguous


@pytest.mark.parametrize(
    "first",
    [json_response(429, {}, {"Retry-After": "0"}), httpx.ConnectError("refused")],
    ids=["429", "connect-refused"],
)
async def test_put_and_delete_are_retried_when_the_server_cannot_have_acted(
    first: Step,
) -> None:
    h = Harness([first, json_response(200, INSTANCE_BODY)])
    await h.client.update("i-1", CLUSTER, "coredns", "1.1", {}, upgrade=True)
    assert h.sent == 2
    h = Harness([first, httpx.Response(200, text="success")])
    await h.client.delete("i-1", CLUSTER)
    assert [r.method for r in h.recorder.requests] == ["DELETE", "DELETE"]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (json_response(500, {"errorCode": "CCE.03500001"}), ServerError),
        (httpx.ReadTimeout("slow"), RequestTimeoutError),
        (httpx.RemoteProtocolError("dropped"), TransportError),
        (httpx.ReadError("reset"), TransportError),
    ],
    ids=["500", "read-timeout", "dropped", "reset"],
)
async def test_install_is_never_repeated_after_an_ambiguous_failure(
    fault: Step, kind: type[Exception]
) -> None:
    h = Harness([fault, json_response(201, INSTANCE_BODY)])
    with pytest.raises(kind) as caught:
        await h.client.install(CLUSTER, "coredns", "1.0", {})
    assert h.sent == 1
    err = caught.value
    assert getattr(err, "ambiguous", False) is True
    assert "may or may not have taken effect" in str(err)
    assert f"find_instance({CLUSTER!r}, 'coredns')" in str(err)
    assert err.__cause__ is not None


@pytest.mark.parametrize(
    "first",
    [
        json_response(429, {"error_code": "APIG.0308"}, {"Retry-After": "0"}),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no connection"),
    ],
    ids=["429", "connect-refused", "connect-timeout"],
)
async def test_post_is_retried_when_the_server_cannot_have_acted(first: Step) -> None:
    h = Harness([first, json_response(201, INSTANCE_BODY)])
    instance = await h.client.install(CLUSTER, "coredns", "1.0", {})
    assert instance.uid == "i-1" and h.sent == 2


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, REAL_400, InvalidRequestError, "CCE.03400001"),
        (
            401,
            {"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication"},
            AuthenticationError,
            "APIG.0301",
        ),
        (
            403,
            {"errorCode": "CCE.03403001", "errorMessage": "Forbidden."},
            AuthenticationError,
            "CCE.03403001",
        ),
        (
            404,
            {"error": {"code": "SVCSTG.CCE-ADDONMGR.4040204", "message": "Addon not exist"}},
            NotFoundError,
            "SVCSTG.CCE-ADDONMGR.4040204",
        ),
        (
            409,
            {"errorCode": "CCE.03409001", "errorMessage": "Addon instance has installed."},
            ConflictError,
            "CCE.03409001",
        ),
        (422, "not json at all", InvalidRequestError, None),
    ],
)
async def test_client_errors_are_typed_and_not_retried(
    status: int, body: object, kind: type[Exception], code: str | None
) -> None:
    response = (
        httpx.Response(status, text=body) if isinstance(body, str) else json_response(status, body)
    )
    h = Harness([response])
    with pytest.raises(kind) as caught:
        await h.client.get_instance("i-1", CLUSTER)
    assert h.sent == 1
    assert getattr(caught.value, "status", None) == status
    assert getattr(caught.value, "code", None) == code


async def test_real_error_body_message_keeps_the_useful_part() -> None:
    h = Harness([json_response(400, REAL_400)])
    with pytest.raises(InvalidRequestError) as caught:
        await h.client.install(CLUSTER, "autoscaler", "1.0", {})
    assert "custom values are not defined" in caught.value.message
    assert not caught.value.ambiguous  # a 4xx is a definite "no"


async def test_retry_after_is_honoured() -> None:
    h = Harness([json_response(429, {}, {"Retry-After": "0.3"}), OK_LIST])
    started = time.monotonic()
    await h.client.list_instances(CLUSTER)
    assert time.monotonic() - started >= 0.3
    assert h.sent == 2


async def test_timeout_bounds_a_hanging_call() -> None:
    seen: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        await asyncio.sleep(5)
        return json_response(200, {})

    async with CloudSession(
        credentials=Credentials(token="t"),
        transport=httpx.MockTransport(hang),
        timeout_s=0.05,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.001),
    ) as session:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            await session.client("https://cce.example", "r", "p").list_templates()
    assert time.monotonic() - started < 1.0
    assert len(seen) == 2
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_concurrency_is_bounded_by_the_session() -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return json_response(200, {"items": []})

    async with CloudSession(
        concurrency=3, credentials=Credentials(token="t"), transport=httpx.MockTransport(slow)
    ) as session:
        client = session.client("https://cce.example", "r", "p")
        await asyncio.gather(*(client.list_instances(f"c{i}") for i in range(12)))
        assert session.request_count == 12
    assert peak == 3


async def test_session_rate_limit_spaces_requests() -> None:
    h = Harness([OK_LIST], rate_limit_per_s=50.0)
    started = time.monotonic()
    await asyncio.gather(*(h.client.list_instances(CLUSTER) for _ in range(11)))
    # the first token is there at the start; ten more take 10 / 50 s
    assert time.monotonic() - started >= 0.19
    assert h.sent == 11


async def test_token_bucket_with_a_fake_clock() -> None:
    now = 0.0
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        nonlocal now
        slept.append(seconds)
        now += seconds

    bucket = TokenBucket(4.0, burst=2.0, clock=lambda: now, sleep=sleep)
    for _ in range(4):
        await bucket.acquire()
    assert slept == [pytest.approx(0.25), pytest.approx(0.25)]
    now += 10  # a long idle refills only up to the burst
    for _ in range(3):
        await bucket.acquire()
    assert len(slept) == 3


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=0.1, max_delay_s=1.0)
    for attempt, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (5, 1.0), (9, 1.0)]:
        delays = [policy.delay_s(attempt) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8 and min(delays) < cap * 0.2  # spread, not fixed
    assert all(policy.delay_s(1, retry_after_s=2.0) >= 2.0 for _ in range(50))
    assert policy.delay_s(1, retry_after_s=10_000) <= policy.max_retry_after_s


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def test_try_take_refuses_without_waiting_and_follows_a_changed_rate() -> None:
    """The emulator gateway's use of the bucket: a burst, then one token per
    1/rate seconds; a new rate applies to the time since the last take."""
    bucket = TokenBucket(2.0, burst=2.0, clock=lambda: 100.0)
    assert [bucket.try_take(100.0) for _ in range(3)] == [True, True, False]
    assert not bucket.try_take(100.25) and bucket.try_take(100.5)
    bucket.set_rate(4.0, burst=4.0)
    assert bucket.try_take(100.75) and not bucket.try_take(100.75)
