"""The s3 backend against a store that ignores conditional writes (as Huawei OBS does today).

The store is moto's server behind a small proxy that drops ``If-None-Match``
and ``If-Match``: every PUT then succeeds, which is what the probe must catch.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from reconciler.statemgr.errors import BackendError, LockError
from reconciler.statemgr.factory import open_backend
from reconciler.statemgr.s3 import S3Backend
from tests.statemgr.conftest import S3_ENV, S3_SECRET_KEY, PostgresServer, make_bucket
from tests.statemgr.statemgr_helpers import sample_state

# Expect: the proxy answers 100-continue itself (HTTP/1.1 handler), moto need not.
_DROPPED = {"if-none-match", "if-match", "expect"}


@pytest.fixture(scope="module")
def ignoring_endpoint(moto_endpoint: str) -> Iterator[str]:
    upstream = urlsplit(moto_endpoint)

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROPPED}
            conn = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                conn.close()

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _url(endpoint: str, moto_endpoint: str, extra: str = "") -> str:
    # The bucket is made on moto directly; the backend talks through ``endpoint``.
    return f"s3://{make_bucket(moto_endpoint)}/state?endpoint={endpoint}&region=us-east-1{extra}"


def test_the_probe_passes_on_a_store_that_honours_conditional_writes(
    moto_endpoint: str,
) -> None:
    backend = open_backend(_url(moto_endpoint, moto_endpoint), S3_ENV)
    with backend.lock("prod"):
        pass
    assert backend.list() == []  # the probe object is gone


def test_a_store_ignoring_conditional_writes_refuses_to_lock(
    ignoring_endpoint: str, moto_endpoint: str
) -> None:
    backend = open_backend(_url(ignoring_endpoint, moto_endpoint), S3_ENV)
    with pytest.raises(LockError) as refused, backend.lock("prod"):
        pass
    message = str(refused.value)
    assert "does not honour conditional writes" in message
    assert ignoring_endpoint in message and "Huawei OBS" in message
    assert "lock=postgres" in message and "lock=none" in message
    assert "\n" not in message and S3_SECRET_KEY not in message
    assert backend.lock_info("prod") is None
    assert backend.list() == []


def test_lock_none_runs_unlocked_and_warns_every_time(
    ignoring_endpoint: str, moto_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = open_backend(_url(ignoring_endpoint, moto_endpoint, "&lock=none"), S3_ENV)
    caplog.set_level(logging.WARNING, logger="reconciler.statemgr.s3")
    for _ in range(2):
        with backend.lock("prod"):
            written = backend.write(sample_state("prod"))
            backend.remove("prod")
    assert written.serial == 1
    warnings = [r for r in caplog.records if "lock=none" in r.getMessage()]
    assert len(warnings) == 2
    assert "NOT locked" in warnings[0].getMessage()


def test_lock_postgres_guards_a_store_ignoring_conditional_writes(
    ignoring_endpoint: str, moto_endpoint: str, postgres_server: PostgresServer
) -> None:
    lock_url = postgres_server.url(postgres_server.new_database())
    url = _url(ignoring_endpoint, moto_endpoint, "&lock=postgres")
    env = {**S3_ENV, "RECONCILER_LOCK_URL": lock_url}
    first, second = open_backend(url, env), open_backend(url, env)
    try:
        with first.lock("prod", "apply") as info:
            first.write(sample_state("prod"))
            with pytest.raises(LockError, match=f"pid {info.pid}"), second.lock("prod"):
                pass
        with second.lock("prod"):
            stored = second.read("prod")
            assert stored is not None and second.write(stored).serial == 2
    finally:
        first.close()
        second.close()


def test_hw_keys_are_used_and_never_shown(moto_endpoint: str) -> None:
    hw_env = {"HW_ACCESS_KEY": "HWACCESSKEY0001", "HW_SECRET_KEY": "hw-secret-0f9e8d7c"}
    backend = open_backend(_url(moto_endpoint, moto_endpoint), hw_env)
    assert isinstance(backend, S3Backend)
    backend.write(sample_state("prod"))
    assert "hw-secret" not in repr(backend) and "hw-secret" not in str(backend)


def test_an_unreachable_store_is_one_line_without_credentials() -> None:
    backend = open_backend("s3://bucket/x?endpoint=http://127.0.0.1:9&region=r", S3_ENV)
    with pytest.raises(BackendError) as failed:
        backend.read("prod")
    message = str(failed.value)
    assert "s3://bucket/x/prod.json" in message and "127.0.0.1:9" in message
    assert S3_SECRET_KEY not in message and "\n" not in message
