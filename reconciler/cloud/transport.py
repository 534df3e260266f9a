"""A lean HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``.

Why not httpx's default (httpcore) transport: under a plan's fan-out its
connection pool rescans every pooled connection (a socket-readability probe
through anyio each) on every request and response, and probes for trio with a
failing import per request; with 50 connections that is 3-8 ms of CPU per
request, which caps a run at ~150 requests/s and makes the wall time of
``plan`` over 1,000 clusters CPU-bound instead of latency-bound. This transport
keeps a stack of idle connections per origin (O(1) to take one), writes each
request in one ``write`` and reads responses with ``asyncio`` streams.

Scope (what CCE endpoints need): ``http`` and ``https`` origins, responses with
``Content-Length``, chunked or read-to-close bodies, ``Connection: close``.
Proxies are not handled here: :func:`default_transport` falls back to httpx's
own transport when the environment configures one.

:class:`InProcessTransport` serves an in-process ASGI app (the emulator behind
``emulator://NAME``) and makes its dropped connections look like a cut socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import httpx

__all__ = [
    "AsgiApp",
    "InProcessTransport",
    "KeepAliveTransport",
    "RawResponse",
    "default_transport",
]

_NO_BODY_STATUS = frozenset({204, 304})
_Origin = tuple[str, str, int]


class RawResponse:
    """A response as read off the wire: status, reason, raw headers, body."""

    __slots__ = ("content", "headers", "reason", "status")

    def __init__(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]],
                 content: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = content


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        # A server that closed an idle keep-alive connection has fed EOF by now.
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


def _timeouts(request: httpx.Request) -> Mapping[str, float | None]:
    found = request.extensions.get("timeout")
    return found if isinstance(found, Mapping) else {}


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` open connections per origin, reused LIFO."""

    def __init__(self, max_connections: int = 100, ssl_context: ssl.SSLContext | None = None):
        self._max = max_connections
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        # Connections closed mid-run (errors, cancellation, ``Connection: close``):
        # their sockets are released by a later turn of the loop, which
        # ``aclose`` waits for, so that a run ending right after (asyncio.run
        # closing its loop) leaves no unclosed socket behind.
        self._closing: list[_Connection] = []
        self._slots: dict[_Origin, asyncio.Semaphore] = {}

    async def __aenter__(self) -> KeepAliveTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                self._discard(connection)
        closing, self._closing = self._closing, []
        if closing:
            # Bounded: a peer that never acknowledges must not hold the run up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await asyncio.gather(*(c.writer.wait_closed() for c in closing),
                                         return_exceptions=True)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        if len(self._closing) >= 256:
            # Closed many turns of the loop ago: released already.
            del self._closing[:128]
        self._closing.append(connection)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        timeouts = _timeouts(request)
        body = await request.aread()
        head = [f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode("ascii")]
        head += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
        head.append(b"\r\n")
        reply = await self.exchange(
            (url.scheme, url.host, port), b"".join(head) + body, head_only=request.method == "HEAD",
            connect_timeout=timeouts.get("connect"), read_timeout=timeouts.get("read"),
            request=request,
        )
        return httpx.Response(
            reply.status,
            headers=reply.headers,
            content=reply.content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reply.reason},
        )

    async def exchange(
        self,
        origin: tuple[str, str, int],
        payload: bytes,
        *,
        head_only: bool = False,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        request: httpx.Request | None = None,
    ) -> RawResponse:
        """Send ``payload`` (request line, headers and body, as bytes) on a
        kept-alive connection to ``origin`` and read the response.

        The cloud layer's read path calls this directly: building an
        ``httpx.Request`` and ``Response`` (URL parsing, header objects, the
        cookie jar) cost more CPU per request than the exchange itself.
        Failures are httpx's exceptions, as from :meth:`handle_async_request`;
        ``request`` only rides on them."""
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self._max)
        async with slots:
            connection = self._take(origin)
            if connection is None:
                connection = await self._connect(origin, request, connect_timeout)
            try:
                async with asyncio.timeout(read_timeout):
                    connection.writer.write(payload)
                    reply, keep = await self._read_response(connection.reader, head_only,
                                                            request)
            except TimeoutError as exc:
                self._discard(connection)
                raise httpx.ReadTimeout("timed out reading the response", request=request) from exc
            except (OSError, ValueError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError) as exc:
                self._discard(connection)
                raise httpx.RemoteProtocolError(
                    f"connection lost before a complete response: {type(exc).__name__}",
                    request=request,
                ) from exc
            except BaseException:
                self._discard(connection)
                raise
            if keep:
                self._idle.setdefault(origin, []).append(connection)
            else:
                self._discard(connection)
        return reply

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable:
                return connection
            self._discard(connection)
        return None

    async def _connect(
        self, origin: _Origin, request: httpx.Request | None, timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl or httpx.create_ssl_context()
            self._ssl = context
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out",
                                       request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}",
                                     request=request) from exc
        return _Connection(reader, writer)

    @staticmethod
    async def _read_response(
        reader: asyncio.StreamReader, head_only: bool, request: httpx.Request | None
    ) -> tuple[RawResponse, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code, _, reason = rest.partition(b" ")
            try:
                status = int(code)
            except ValueError as exc:
                raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:80]!r}",
                                                request=request) from exc
            if not 100 <= status < 200 or status == 101:
                break  # interim 1xx responses are skipped
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        close = version != b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            value = value.strip()
            headers.append((name, value))
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif lowered == b"connection":
                close = b"close" in value.lower()
        if head_only or status in _NO_BODY_STATUS:
            content = b""
        elif chunked:
            content = await _read_chunked(reader)
        elif length is not None:
            content = await reader.readexactly(length)
        else:
            content = await reader.read()
            close = True
        return RawResponse(status, reason, headers, content), not close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers are read and dropped
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


_PROXY_SCHEMES = ("http", "https", "all")


def default_transport(max_connections: int) -> httpx.AsyncBaseTransport | None:
    """The transport for real endpoints: :class:`KeepAliveTransport`, or None
    (httpx's own, which honours proxies) when a proxy is configured.

    Proxies are found with the standard library's ``urllib.request.getproxies()``
    limited to the ``http``, ``https`` and ``all`` schemes: on Linux that reads
    the same ``*_proxy`` variables httpx reads. It differs in two ways: on macOS
    and Windows it also reads the system proxy settings (then httpx's transport
    is used, which is merely slower), and a ``no_proxy`` list alone is not a
    proxy (httpx's private helper counts it, with nothing to route through)."""
    proxies = urllib.request.getproxies()
    if any(proxies.get(scheme) for scheme in _PROXY_SCHEMES):
        return None
    return KeepAliveTransport(max_connections)


AsgiApp = Callable[
    [MutableMapping[str, Any],
     Callable[[], Awaitable[MutableMapping[str, Any]]],
     Callable[[MutableMapping[str, Any]], Awaitable[None]]],
    Awaitable[None],
]
"""An ASGI 3 application: ``await app(scope, receive, send)``."""


class InProcessTransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport`` for an app in this process, where any exception
    the app raises is a dropped connection.

    Over a socket, an app that fails mid-response (the emulator's
    ``DroppedConnection`` fault) leaves the client with a cut connection, which
    httpx reports as ``RemoteProtocolError``. In-process the app's exception
    would reach the client as itself; mapping it (chained, so the cause stays
    visible) gives the same cloud errors, ``ambiguous`` flags and retry counts
    as a real socket, without the app having to know httpx."""

    def __init__(self, app: AsgiApp) -> None:
        self._asgi = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:
            raise httpx.RemoteProtocolError(
                f"connection dropped by the in-process server: {exc}", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._asgi.aclose()
