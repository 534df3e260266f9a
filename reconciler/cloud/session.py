"""One run's connection to CCE: the pool, limits and clients it hands out.

``async with CloudSession(...) as session`` opens one ``httpx.AsyncClient`` for
real endpoints (its pool sized to the concurrency) and closes every client on
exit. ``emulator://NAME`` endpoints run the packaged emulator scenario NAME
in-process through ``httpx.ASGITransport``: one emulator per NAME per session,
its state kept in ``<state_dir>/emulator/NAME.json`` so that successive runs
see what earlier ones did, and its own account used as credentials.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from reconciler.cloud.client import CceClient
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.errors import AuthenticationError, CloudError
from reconciler.cloud.preflight import check_endpoint
from reconciler.cloud.retry import RetryPolicy
from reconciler.cloud.sender import Limits, Sender
from reconciler.cloud.transport import default_transport
from reconciler.kit.tokenbucket import TokenBucket
from reconciler.model.desired import default_endpoint

if TYPE_CHECKING:
    from reconciler.emulator import Emulator

__all__ = ["EMULATOR_SCHEME", "EMULATOR_TIME_SCALE", "CloudSession"]

EMULATOR_SCHEME = "emulator://"
EMULATOR_TIME_SCALE = 10.0
"""In-process emulators run ten times faster than real time, so that a demo
apply finishes in seconds."""
_EMULATOR_BASE_URL = "http://cce.emulator.local"


class CloudSession:
    """Shared transport and limits for every :class:`CceClient` of one run."""

    def __init__(
        self,
        concurrency: int = 10,
        rate_limit_per_s: float | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        credentials: Credentials | None = None,
        state_dir: Path | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network for ``http(s)`` endpoints (tests
        pass ``httpx.MockTransport`` or ``httpx.ASGITransport``)."""
        self._limits = Limits(
            concurrency=concurrency,
            rate_limit=TokenBucket(rate_limit_per_s) if rate_limit_per_s else None,
            retry=retry or RetryPolicy(),
            timeout_s=timeout_s,
        )
        self._credentials = credentials
        self._state_dir = state_dir
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._emulators: dict[str, tuple[Emulator, httpx.AsyncClient]] = {}

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
        clients = [c for _, c in self._emulators.values()]
        if self._http is not None:
            clients.append(self._http)
        self._http = None
        self._emulators.clear()
        for client in clients:
            await client.aclose()

    def _network(self) -> httpx.AsyncClient:
        if self._http is None:
            size = self._limits.concurrency
            self._http = httpx.AsyncClient(
                transport=self._transport or default_transport(size),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx.Timeout(self._limits.timeout_s),
                follow_redirects=False,
            )
        return self._http

    def client(self, endpoint: str, region: str, project_id: str) -> CceClient:
        """A client for ``endpoint`` (empty: the region's public endpoint)."""
        check_endpoint(endpoint)  # commands check first; this keeps library callers safe too
        if endpoint.startswith(EMULATOR_SCHEME):
            return self._emulator_client(endpoint, region)
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
        )
        return CceClient(sender, endpoint=endpoint, region=region)

    def emulator(self, endpoint: str) -> Emulator:
        """The in-process emulator behind an ``emulator://NAME`` endpoint, started on first use."""
        return self._emulator_for(endpoint.removeprefix(EMULATOR_SCHEME))[0]

    def _emulator_for(self, name: str) -> tuple[Emulator, httpx.AsyncClient]:
        if name not in self._emulators:
            from reconciler.emulator import Emulator, demo_scenario_path, load_scenario

            # Packaged scenarios live beside the demo one.
            scenario = demo_scenario_path().parent / f"{name}.yaml"
            if not scenario.is_file():
                known = sorted(p.stem for p in scenario.parent.glob("*.yaml"))
                raise CloudError(
                    f"no packaged emulator scenario {name!r}; known: {', '.join(known)}"
                )
            state_dir = self._state_dir or Path(".reconciler")
            emulator = Emulator(
                load_scenario(scenario),
                time_scale=EMULATOR_TIME_SCALE,
                state_file=state_dir / "emulator" / f"{name}.json",
            )
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=emulator.app),
                timeout=httpx.Timeout(self._limits.timeout_s),
            )
            self._emulators[name] = (emulator, http)
        return self._emulators[name]

    def _emulator_client(self, endpoint: str, region: str) -> CceClient:
        name = endpoint.removeprefix(EMULATOR_SCHEME)
        if not name:
            raise CloudError(f"{endpoint!r} names no scenario: use {EMULATOR_SCHEME}NAME")
        emulator, http = self._emulator_for(name)
        account = emulator.account
        credentials = Credentials(
            access_key=account.access_key,
            secret_key=account.secret_key,
            project_id=account.project_id,
            region=region,
        )
        # The emulator is the whole world: its account decides the project.
        sender = Sender(http, _EMULATOR_BASE_URL, credentials, account.project_id, self._limits)
        return CceClient(sender, endpoint=endpoint, region=region)
