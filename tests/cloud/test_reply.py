"""The request bytes the senders write themselves, and the replies they read."""

from __future__ import annotations

import gzip
import math
import zlib

import httpx
import pytest

from reconciler.cloud.reply import Reply, decode_json, request_bytes


def test_request_bytes_are_http_1_1_with_length_and_body() -> None:
    wire = request_bytes("PUT", "/api/v3/addons/x?cluster_id=c",
                         {"Host": "h:8443", "X-Auth-Token": "t"}, b'{"a":1}')
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /api/v3/addons/x?cluster_id=c HTTP/1.1"
    assert b"Host: h:8443" in lines and b"Content-Length: 7" in lines
    assert body == b'{"a":1}'
    get = request_bytes("GET", "/x", {"Host": "h"}, b"")
    assert b"Content-Length" not in get and get.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("value", ["t\r\nX-Injected: 1", "t\nx", "t\r"])
def test_a_line_break_in_a_header_value_is_refused(value: str) -> None:
    """A token or project id from the environment or a file must not add headers."""
    with pytest.raises(httpx.LocalProtocolError):
        request_bytes("GET", "/x", {"X-Auth-Token": value}, b"")


def test_replies_are_decompressed_and_headers_folded() -> None:
    body = b'{"items": []}'
    for coding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        reply = Reply.of_wire(200, b"OK", [(b"Content-Encoding", coding.encode()),
                                           (b"X-Request-Id", b"a"), (b"x-request-id", b"b")],
                              packed)
        assert reply.content == body and reply.headers["x-request-id"] == "a, b"
    with pytest.raises(httpx.DecodingError):
        Reply.of_wire(200, b"OK", [(b"Content-Encoding", b"br")], b"xx")


def test_decode_json_falls_back_to_the_standard_library_then_text() -> None:
    nan = decode_json(b'{"n": NaN}')  # orjson refuses NaN; json reads it
    assert isinstance(nan, dict) and math.isnan(nan["n"])
    big = decode_json(b'{"big": 123456789012345678901234567890}')  # past 64 bits
    assert big == {"big": 123456789012345678901234567890}
    assert decode_json(b"success") == "success"
    assert decode_json(b"") is None
