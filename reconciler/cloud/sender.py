"""One API call on the wire: sign, limit, send, retry, and map failures to errors.

Retries (with :class:`~reconciler.cloud.retry.RetryPolicy`):

- idempotent calls (GET, PUT, DELETE) on 429, 5xx, connection errors and
  timeouts;
- a POST, or a request marked ``repeatable=False``, only when the server cannot
  have acted on it: a 429 (refused before processing), a refused connection,
  or a connect/pool timeout. After any other failure (5xx, read timeout,
  dropped connection) the error is raised with ``ambiguous=True`` and a hint
  saying how to look before trying again.

A CCE add-on PUT or DELETE is idempotent on paper but not in effect: while the
operation it started is in flight, the same request again is refused with 400
"is upgrading", so the client marks those ``repeatable=False`` and the caller
looks before re-sending (apply/ambiguous.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from reconciler.cloud.auth import request_headers
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.errors import (
    CloudError,
    RequestTimeoutError,
    TransportError,
    error_for_status,
)
from reconciler.cloud.pacing import Pace
from reconciler.cloud.reply import Reply, decode_json, request_bytes
from reconciler.cloud.retry import RetryPolicy, parse_retry_after
from reconciler.cloud.sharing import JsonInterner
from reconciler.cloud.transport import KeepAliveTransport
from reconciler.kit.signing import QueryValue, canonical_query
from reconciler.model.json import JSON
from reconciler.model.progress import QuietRefresh, RefreshProgress
from reconciler.model.sensitive import masked_by_name

__all__ = ["ApiRequest", "ApiResponse", "Limits", "Sender", "path"]

log = logging.getLogger("reconciler.cloud")

_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


def path(template: str, **params: str) -> str:
    """Fill ``{name}`` placeholders, each value quoted whole (``/`` included), as the SDK does."""
    for name, value in params.items():
        template = template.replace("{" + name + "}", quote(value, safe=""))
    return template


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    """Already quoted, e.g. the output of :func:`path`."""
    query: tuple[tuple[str, QueryValue], ...] = ()
    body: JSON | None = None
    """Sent as ``json.dumps(body)`` (the SDK's bytes); None sends no body."""
    hint: str = ""
    """For a POST (or a request that is not ``repeatable``): how to check whether
    it took effect after an ambiguous failure."""
    repeatable: bool | None = None
    """May be re-sent blindly after it may have reached the server; None: by method."""
    decode: bool = True
    """False: the response's ``body`` is None and ``raw`` holds its bytes (the
    caller decodes them its own way, cloud/typedwire.py)."""

    @property
    def idempotent(self) -> bool:
        if self.repeatable is not None:
            return self.repeatable
        return self.method.upper() in _IDEMPOTENT

    def body_bytes(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: JSON
    """Decoded JSON, or the text when the body is not JSON (DELETE answers ``success``)."""
    request_id: str | None
    raw: bytes = b""
    """The undecoded body, for a request sent with ``decode=False``."""


@dataclass
class Limits:
    """What all senders of one session share: the concurrency cap, the rate
    limit, the retry policy, the timeout, and the count of requests sent."""

    concurrency: int = 10
    rate_limit_per_s: float | None = None
    """``--rate-limit``: requests per second per endpoint; None learns it from 429s."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 30.0
    request_count: int = 0
    interner: JsonInterner = field(default_factory=JsonInterner)
    """Shares equal subtrees of the add-on values read in this session."""
    progress: RefreshProgress = field(default_factory=QuietRefresh)
    """Told of retries and rate-limit waits (a terminal shows them)."""
    semaphore: asyncio.Semaphore = field(init=False)
    paces: dict[str, Pace] = field(init=False, default_factory=dict)
    """Per endpoint: CCE limits each tenant per endpoint (cloud/pacing.py)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate_limit_per_s is not None and self.rate_limit_per_s <= 0:
            raise ValueError("the rate limit must be positive")
        self.semaphore = asyncio.Semaphore(self.concurrency)

    def pace_for(self, endpoint: str) -> Pace:
        found = self.paces.get(endpoint)
        if found is None:
            found = self.paces[endpoint] = Pace(self.rate_limit_per_s)
        return found


_WAIT_WORTH_LOGGING_S = 0.05
_BODY_LOG_LIMIT = 16_384
"""Characters of a body ``-vv`` logs: enough for any add-on's values, not a
multi-megabyte list response per request."""


def _loggable(text: str) -> str:
    """A body with the values at secret-named keys masked (a live add-on's
    password is no value the redactor knows); not JSON: as it is."""
    try:
        body = json.loads(text)
    except ValueError:
        return text
    return json.dumps(masked_by_name(body), ensure_ascii=False)


def _clip(text: str) -> str:
    if len(text) <= _BODY_LOG_LIMIT:
        return text
    return f"{text[:_BODY_LOG_LIMIT]}… ({len(text) - _BODY_LOG_LIMIT} more characters)"


def _error_fields(body: JSON, reason: str) -> tuple[str | None, str]:
    """CCE error code and message from any of the documented error shapes."""
    if not isinstance(body, Mapping):
        text = body.strip()[:200] if isinstance(body, str) else ""
        return None, text or reason
    found = body.get("error")
    inner: Mapping[str, JSON] = found if isinstance(found, Mapping) else {}
    code = next(
        (str(c) for c in (body.get("error_code"), body.get("errorCode"), inner.get("code")) if c),
        None,
    )
    messages: list[str] = []
    for candidate in (
        body.get("error_msg"),
        body.get("errorMessage"),
        inner.get("message"),
        body.get("message"),
    ):
        if isinstance(candidate, str) and candidate and candidate not in messages:
            messages.append(candidate)
    return code, ", ".join(messages) or reason


class Sender:
    """Sends :class:`ApiRequest` s to one endpoint with one set of credentials."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        credentials: Credentials,
        project_id: str,
        limits: Limits,
        *,
        fast: KeepAliveTransport | None = None,
        pace: Pace | None = None,
    ) -> None:
        """``fast``: the transport under ``http``, when it is the session's own
        keep-alive one; requests then skip httpx's objects (:mod:`.reply`)."""
        self._http = http
        self._base = httpx.URL(base_url)
        self._credentials = credentials
        self.project_id = project_id
        self._limits = limits
        self._fast = fast
        self._pace = pace or limits.pace_for(base_url)
        scheme = self._base.scheme
        self._origin = (scheme, self._base.host,
                        self._base.port or (443 if scheme == "https" else 80))
        self._host = self._base.netloc.decode("ascii")
        self._prefix = self._base.raw_path.decode("ascii").rstrip("/")

    def share_json(self, value: JSON) -> JSON:
        """``value``, with subtrees equal to ones read before shared (read-only)."""
        return self._limits.interner.share(value)

    def __repr__(self) -> str:
        return f"Sender(base_url={str(self._base)!r}, project_id={self.project_id!r})"

    def _signed(self, request: ApiRequest) -> tuple[str, dict[str, str], bytes]:
        """The request target (path and query, as on the wire), headers and body."""
        query = list(request.query)
        wire_query = canonical_query(query)
        body = request.body_bytes()
        full_path = self._prefix + request.path
        headers = request_headers(
            self._credentials,
            project_id=self.project_id,
            method=request.method,
            host=self._host,
            path=full_path,
            query=query,
            body=body,
        )
        return full_path + (f"?{wire_query}" if wire_query else ""), headers, body

    def _wire_request(self, request: ApiRequest, target: str) -> httpx.Request:
        """httpx's request object: what the httpx path sends, and what an error's
        cause refers to."""
        url = self._base.copy_with(raw_path=target.encode("ascii"))
        return httpx.Request(request.method, url)

    async def _send_once(self, request: ApiRequest) -> tuple[Reply, str]:
        limits = self._limits
        # The endpoint's pace first, outside the concurrency cap: a throttled
        # endpoint must not hold the slots other endpoints' requests need.
        waited = await self._pace.wait()
        if waited >= _WAIT_WORTH_LOGGING_S:
            limits.progress.waited(waited)
            # The silent part of a throttled run: say where the time goes.
            log.info("%s %s waited %.2f s for the client rate limit",
                     request.method.upper(), request.path, waited,
                     extra={"method": request.method.upper(), "path": request.path,
                            "wait_s": round(waited, 3)})
        async with limits.semaphore:
            # Signed late: X-Sdk-Date is checked for skew.
            target, headers, body = self._signed(request)
            method = request.method.upper()
            limits.request_count += 1
            # asyncio.timeout also bounds in-process (ASGI) calls, which httpx's
            # own timeouts do not reach.
            async with asyncio.timeout(limits.timeout_s):
                if self._fast is not None:
                    raw = await self._fast.exchange(
                        self._origin, request_bytes(method, target, headers, body),
                        # The timeout around this bounds the read: one timer, not two.
                        head_only=method == "HEAD", connect_timeout=limits.timeout_s)
                    return Reply.of_wire(raw.status, raw.reason, raw.headers,
                                         raw.content), target
                url = self._base.copy_with(raw_path=target.encode("ascii"))
                wire = httpx.Request(method, url, headers=headers, content=body)
                return Reply.of_httpx(await self._http.send(wire)), target

    async def send(self, request: ApiRequest) -> ApiResponse:
        """The response of the first successful attempt; a :class:`CloudError` otherwise."""
        policy = self._limits.retry
        method = request.method.upper()
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            retry_after: float | None = None
            try:
                response, target = await self._send_once(request)
            except (TimeoutError, httpx.TimeoutException) as exc:
                not_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                error, retryable = self._transport_error(
                    RequestTimeoutError, request, exc, not_sent,
                    f"no answer in time from {self._host_port()}",
                )
                cause: BaseException = exc
                self._log_exchange(request, attempt, started, failure=error.message)
            except httpx.TransportError as exc:
                not_sent = isinstance(exc, httpx.ConnectError)
                # Name the host: with several endpoints, "which one?" is the first question.
                message = f"connection to {self._host_port()} failed: {type(exc).__name__}"
                error, retryable = self._transport_error(
                    TransportError, request, exc, not_sent, message
                )
                cause = exc
                self._log_exchange(request, attempt, started, failure=error.message)
            else:
                if response.status_code == 429:
                    self._pace.throttled()
                else:
                    self._pace.accepted()
                request_id = response.headers.get("x-request-id")
                self._log_exchange(request, attempt, started, response=response)
                if response.status_code < 400:
                    if not request.decode:
                        return ApiResponse(response.status_code, None, request_id,
                                           response.content)
                    return ApiResponse(response.status_code, decode_json(response.content),
                                       request_id)
                wire = self._wire_request(request, target)
                cause = httpx.HTTPStatusError(
                    f"HTTP {response.status_code}", request=wire,
                    response=response.as_httpx(wire),
                )
                error, retryable = self._status_error(request, response)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if not retryable or attempt >= policy.max_attempts:
                raise error from cause
            delay = policy.delay_s(attempt, retry_after)
            self._limits.progress.retrying(f"{method} {request.path}", attempt, delay,
                                           throttled=error.status == 429)
            log.info(
                "%s %s failed (%s); retry %d/%d in %.2f s",
                method,
                request.path,
                error.message if error.status is None else f"HTTP {error.status}",
                attempt,
                policy.max_attempts - 1,
                delay,
                extra={"method": method, "path": request.path, "attempt": attempt,
                       "retry_in_s": round(delay, 3), "retry_after_s": retry_after},
            )
            await asyncio.sleep(delay)

    def _host_port(self) -> str:
        """``host:port`` of the endpoint (the port the scheme implies when none is given)."""
        port = self._base.port or {"https": 443, "http": 80}.get(self._base.scheme)
        return f"{self._base.host}:{port}" if port else self._base.host

    def _log_exchange(
        self,
        request: ApiRequest,
        attempt: int,
        started: float,
        *,
        response: Reply | None = None,
        failure: str = "",
    ) -> None:
        """One INFO line per attempt (``-v``), its bodies at DEBUG (``-vv``).

        The fields also go to the record (``extra``) for ``--log-file``'s JSON
        lines. No header is logged: they carry the signature or the token.
        Bodies pass the log masking filter like every other message."""
        if not log.isEnabledFor(logging.INFO):
            return  # most runs: no -v, and this runs for every request
        method = request.method.upper()
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        host = self._base.netloc.decode("ascii")
        query = canonical_query(list(request.query))
        # The query names the cluster of /api/v3/addons: without it the lines look alike.
        target = request.path + (f"?{query}" if query else "")
        fields: dict[str, object] = {
            "method": method, "host": host, "path": target, "attempt": attempt,
            "duration_ms": duration_ms,
        }
        if response is not None:
            request_id = response.headers.get("x-request-id")
            fields.update(status=response.status_code, request_id=request_id)
            log.info("%s %s -> %d in %.0f ms (attempt %d, request id %s)", method,
                     target, response.status_code, duration_ms, attempt, request_id,
                     extra=fields)
        else:
            fields.update(error=failure)
            log.info("%s %s -> %s after %.0f ms (attempt %d)", method, target, failure,
                     duration_ms, attempt, extra=fields)
        if not log.isEnabledFor(logging.DEBUG):
            return
        if request.body is not None:
            log.debug("%s %s request body: %s", method, target,
                      _clip(_loggable(request.body_bytes().decode())), extra=fields)
        if response is not None and response.content:
            log.debug("%s %s response body: %s", method, target,
                      _clip(_loggable(response.text)), extra=fields)

    def _transport_error(
        self,
        kind: type[CloudError],
        request: ApiRequest,
        exc: BaseException,
        not_sent: bool,
        message: str,
    ) -> tuple[CloudError, bool]:
        ambiguous = not request.idempotent and not not_sent
        error = kind(
            message,
            method=request.method.upper(),
            path=request.path,
            ambiguous=ambiguous,
            hint=request.hint if ambiguous else "",
        )
        return error, request.idempotent or not_sent

    def _status_error(
        self, request: ApiRequest, response: Reply
    ) -> tuple[CloudError, bool]:
        status = response.status_code
        code, message = _error_fields(decode_json(response.content), response.reason_phrase)
        ambiguous = status >= 500 and not request.idempotent
        error = error_for_status(status)(
            message,
            status=status,
            code=code,
            request_id=response.headers.get("x-request-id"),
            method=request.method.upper(),
            path=request.path,
            ambiguous=ambiguous,
            hint=request.hint if ambiguous else "",
        )
        retryable = status == 429 or (status >= 500 and request.idempotent)
        return error, retryable
