"""A response as the sender needs it, from either transport, and its JSON.

The read path of a plan sends thousands of small GETs; building httpx's
``Request`` and ``Response`` objects for each (URL parsing, header objects,
the cookie jar) cost more client CPU than the exchange itself. With the
session's own :class:`~reconciler.cloud.transport.KeepAliveTransport` the
sender writes the request bytes itself (:func:`request_bytes`) and reads a
:class:`Reply`; any other transport (a proxy, a test's ``MockTransport``)
still goes through httpx and is turned into the same :class:`Reply`.

JSON is decoded with msgspec (2-4x faster than the standard library on these
bodies, which were a fifth of the client's CPU; orjson is as fast but turns an
integer past 64 bits into a float without a word); what msgspec refuses and
the standard library accepts (NaN, 1e400) still decodes.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping

import httpx
import msgspec

from reconciler.model.json import JSON

__all__ = ["Reply", "decode_json", "request_bytes"]

_DECOMPRESSORS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_ACCEPT = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
"""What httpx would add to every request: the same bytes reach the server."""


class Reply:
    """Status, reason, headers (lowercase names) and the body of one response."""

    __slots__ = ("content", "headers", "reason_phrase", "status_code")

    def __init__(self, status_code: int, reason_phrase: str, headers: Mapping[str, str],
                 content: bytes) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @classmethod
    def of_httpx(cls, response: httpx.Response) -> Reply:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return cls(response.status_code, response.reason_phrase, headers, response.content)

    @classmethod
    def of_wire(cls, status: int, reason: bytes, raw_headers: list[tuple[bytes, bytes]],
                content: bytes) -> Reply:
        headers: dict[str, str] = {}
        for raw_name, raw_value in raw_headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            # Repeated headers joined as httpx joins them.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        coding = headers.get("content-encoding", "").strip().lower()
        if coding and coding != "identity" and content:
            wbits = _DECOMPRESSORS.get(coding)
            if wbits is None:
                raise httpx.DecodingError(f"unsupported Content-Encoding {coding!r}")
            try:
                content = zlib.decompress(content, wbits)
            except zlib.error as exc:
                raise httpx.DecodingError(f"bad {coding} body: {exc}") from exc
        return cls(status, reason.decode("latin-1"), headers, content)

    def as_httpx(self, request: httpx.Request) -> httpx.Response:
        """The same response as httpx's object (for an error's ``__cause__``)."""
        return httpx.Response(self.status_code, headers=dict(self.headers),
                              content=self.content, request=request,
                              extensions={"reason_phrase": self.reason_phrase.encode()})


def request_bytes(method: str, target: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The HTTP/1.1 request as written on the wire (``target``: path and query,
    already quoted). Raises ``httpx.LocalProtocolError`` for a header value
    with a line break (a token or project id from untrusted input), which
    would otherwise inject headers."""
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in (*headers.items(), *_ACCEPT.items()):
        if "\r" in value or "\n" in value:
            raise httpx.LocalProtocolError(f"header {name} contains a line break")
        lines.append(f"{name}: {value}")
    if body or method not in ("GET", "HEAD", "DELETE"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8") + body


_DECODER = msgspec.json.Decoder()


def decode_json(content: bytes) -> JSON:
    """The body's JSON, or its text when it is not JSON (DELETE answers ``success``)."""
    if not content:
        return None
    try:
        value: JSON = _DECODER.decode(content)
        return value
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    try:
        value = json.loads(content)
        return value
    except ValueError:
        return content.decode("utf-8", "replace")
