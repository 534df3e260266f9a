"""KeepAliveTransport against a real socket server that answers scripted bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from reconciler.cloud.transport import KeepAliveTransport

RESPONSES = {
    b"/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n"),
    b"/close": b"HTTP/1.1 201 Created\r\nConnection: close\r\n\r\nuntil-eof",
    b"/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"/drop": b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n{\"kind\":",
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[int]]]:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ")[1]
                writer.write(RESPONSES[target])
                await writer.drain()
                if target in (b"/close", b"/drop"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    yield port, connections
    srv.close()


async def test_bodies_by_length_chunks_and_close(server: tuple[int, list[int]]) -> None:
    port, connections = server
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        base = f"http://127.0.0.1:{port}"
        first = await client.get(base + "/length")
        chunked = await client.get(base + "/chunked")
        closing = await client.post(base + "/close", content=b"{}")
        interim = await client.get(base + "/continue")
    assert (first.status_code, first.text) == (200, "hello")
    assert chunked.text == "abcdefg"
    assert (closing.status_code, closing.text) == (201, "until-eof")
    assert interim.status_code == 204 and interim.content == b""
    # /length and /chunked shared one kept-alive connection; /close ended it.
    assert len(connections) == 2


async def test_cut_response_is_a_transport_error(server: tuple[int, list[int]]) -> None:
    port, _ = server
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"http://127.0.0.1:{port}/drop")


async def test_refused_connection_is_a_connect_error() -> None:
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/x")
