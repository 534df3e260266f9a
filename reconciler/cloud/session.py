"""One run's connection to CCE: the pool, limits and clients it hands out.

``async with CloudSession(...) as session`` opens one ``httpx.AsyncClient`` for
real endpoints (its pool sized to the concurrency) and closes every client on
exit. ``emulator://NAME`` endpoints are served in-process: the session asks
its ``in_process`` resolver for NAME once, and sends to the app it gets
through :class:`InProcessService`'s own credentials. The cloud layer doesn't
know what the app is: the command line injects the packaged emulator
(``reconciler.cli.inprocess``), which keeps the client and its oracle apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from reconciler.cloud.client import CceClient
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.errors import AuthenticationError, CloudError
from reconciler.cloud.pacing import Pace
from reconciler.cloud.preflight import EMULATOR_SCHEME, check_endpoint
from reconciler.cloud.retry import RetryPolicy
from reconciler.cloud.sender import Limits, Sender
from reconciler.cloud.transport import (
    AsgiApp,
    InProcessTransport,
    KeepAliveTransport,
    default_transport,
)
from reconciler.model.desired import default_endpoint
from reconciler.model.progress import RefreshProgress

__all__ = ["EMULATOR_SCHEME", "CloudSession", "InProcessResolver", "InProcessService"]

_IN_PROCESS_BASE_URL = "http://cce.emulator.local"


@dataclass(frozen=True)
class InProcessService:
    """An ASGI app standing in for CCE, and the account it accepts."""

    app: AsgiApp
    access_key: str
    secret_key: str = field(repr=False)
    project_id: str


InProcessResolver = Callable[[str], InProcessService]
"""``NAME`` of ``emulator://NAME`` → its service; raises ``CloudError`` (e.g.
``PreflightError``) for a name it doesn't know."""


class CloudSession:
    """Shared transport and limits for every :class:`CceClient` of one run."""

    def __init__(
        self,
        concurrency: int = 10,
        rate_limit_per_s: float | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        credentials: Credentials | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        in_process: InProcessResolver | None = None,
    ) -> None:
        """``transport`` replaces the network for ``http(s)`` endpoints (tests
        pass ``httpx.MockTransport`` or ``InProcessTransport``); ``in_process``
        serves ``emulator://NAME`` endpoints (without it they are refused)."""
        self._limits = Limits(
            concurrency=concurrency,
            rate_limit_per_s=rate_limit_per_s or None,
            retry=retry or RetryPolicy(),
            timeout_s=timeout_s,
        )
        self._credentials = credentials
        self._transport = transport
        self._in_process = in_process
        self._http: httpx.AsyncClient | None = None
        self._fast: KeepAliveTransport | None = None
        self._clients: dict[tuple[str, str, str], CceClient] = {}
        self._services: dict[str, tuple[InProcessService, httpx.AsyncClient]] = {}

    def report_to(self, progress: RefreshProgress) -> None:
        """Tell ``progress`` of this session's retries and rate-limit waits; the
        run also reports the clusters it reads through it (``progress``)."""
        self._limits.progress = progress

    @property
    def progress(self) -> RefreshProgress:
        return self._limits.progress

    @property
    def paces(self) -> Mapping[str, Pace]:
        """Per endpoint: its pace (the rate now, and how often a 429 cut it)."""
        return self._limits.paces

    @property
    def concurrency(self) -> int:
        """Requests in flight at most."""
        return self._limits.concurrency

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._limits.request_count

    def __repr__(self) -> str:
        return (
            f"CloudSession(concurrency={self._limits.concurrency}, "
            f"credentials={self._credentials!r})"
        )

    async def __aenter__(self) -> CloudSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients = [c for _, c in self._services.values()]
        if self._http is not None:
            clients.append(self._http)
        self._http = None
        self._fast = None
        self._clients.clear()
        self._services.clear()
        for client in clients:
            await client.aclose()

    def _network(self) -> httpx.AsyncClient:
        if self._http is None:
            size = self._limits.concurrency
            transport = self._transport or default_transport(size)
            if isinstance(transport, KeepAliveTransport):
                self._fast = transport  # senders write to it directly (cloud/reply.py)
            self._http = httpx.AsyncClient(
                transport=transport,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx.Timeout(self._limits.timeout_s),
                follow_redirects=False,
            )
        return self._http

    def client(self, endpoint: str, region: str, project_id: str) -> CceClient:
        """A client for ``endpoint`` (empty: the region's public endpoint); one
        per endpoint, region and project for the session (a plan asks once per
        cluster, and parsing the URL and credentials each time was measurable)."""
        key = (endpoint, region, project_id)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = self._new_client(endpoint, region, project_id)
        return found

    def _new_client(self, endpoint: str, region: str, project_id: str) -> CceClient:
        if endpoint.startswith(EMULATOR_SCHEME):
            return self._in_process_client(endpoint, region)
        check_endpoint(endpoint)  # commands check first; this keeps library callers safe too
        credentials = self._credentials or Credentials.from_env()
        if credentials is None:
            raise AuthenticationError(
                "no credentials: set HW_ACCESS_KEY and HW_SECRET_KEY, or HW_AUTH_TOKEN"
            )
        region = region or credentials.region
        if not endpoint:
            if not region:
                raise CloudError("no endpoint and no region to derive it from (HW_REGION_NAME)")
            endpoint = default_endpoint(region)
        if not endpoint.startswith(("https://", "http://")):
            raise CloudError(
                f"unsupported endpoint {endpoint!r}: use https://HOST or {EMULATOR_SCHEME}NAME"
            )
        sender = Sender(
            self._network(),
            endpoint,
            credentials,
            project_id or credentials.project_id,
            self._limits,
            fast=self._fast,
        )
        return CceClient(sender, endpoint=endpoint, region=region)

    def _service(self, name: str) -> tuple[InProcessService, httpx.AsyncClient]:
        """One resolved service (and client) per NAME per session."""
        if name not in self._services:
            if self._in_process is None:
                raise CloudError(
                    f"{EMULATOR_SCHEME}{name}: this session serves no in-process endpoints"
                    " (CloudSession(in_process=...))"
                )
            service = self._in_process(name)
            http = httpx.AsyncClient(
                transport=InProcessTransport(service.app),
                timeout=httpx.Timeout(self._limits.timeout_s),
            )
            self._services[name] = (service, http)
        return self._services[name]

    def _in_process_client(self, endpoint: str, region: str) -> CceClient:
        name = endpoint.removeprefix(EMULATOR_SCHEME)
        if not name:
            raise CloudError(f"{endpoint!r} names no scenario: use {EMULATOR_SCHEME}NAME")
        service, http = self._service(name)
        credentials = Credentials(
            access_key=service.access_key,
            secret_key=service.secret_key,
            project_id=service.project_id,
            region=region,
        )
        # The in-process service is the whole world: its account decides the project.
        # Paced by the name: every in-process service has the same base URL.
        sender = Sender(http, _IN_PROCESS_BASE_URL, credentials, service.project_id,
                        self._limits, pace=self._limits.pace_for(endpoint))
        return CceClient(sender, endpoint=endpoint, region=region)
