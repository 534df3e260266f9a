"""Real servers for the backend tests: moto's S3 server and a throw-away PostgreSQL.

Both start once per session on 127.0.0.1 and only when a test asks for them.
Each test gets its own bucket or database. PostgreSQL is skipped with a loud
reason where its binaries are missing, except under ``CI`` where that fails.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.factory import open_backend

# Fake but secret-looking: tests check that they never show up anywhere.
S3_ACCESS_KEY = "AKIARECONCILERTEST01"
S3_SECRET_KEY = "sk-TOP-SECRET-e4f1c2a9b7d34c51"
S3_ENV = {"AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}


@dataclass
class Target:
    """A backend to test: its URL and environment; ``open`` gives a fresh instance."""

    url: str
    env: dict[str, str] = field(default_factory=dict)
    opened: list[StateBackend] = field(default_factory=list)

    def open(self) -> StateBackend:
        backend = open_backend(self.url, self.env)
        self.opened.append(backend)
        return backend

    def close_all(self) -> None:
        for backend in self.opened:
            backend.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def make_bucket(endpoint: str) -> str:
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    _admin_client(endpoint).create_bucket(Bucket=bucket)
    return bucket


@functools.cache
def _admin_client(endpoint: str) -> Any:
    import botocore.session

    return botocore.session.Session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
    )


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    database: str = "reconciler_test"

    def url(self, database: str) -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{database}"

    def new_database(self) -> str:
        """The test database, emptied (CREATE DATABASE takes ~1 s; dropping tables doesn't)."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname=self.database, autocommit=True
        ) as conn:
            conn.execute(
                "DROP TABLE IF EXISTS reconciler_state, reconciler_lock, reconciler_journal"
            )
        return self.database


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bin()
    if bindir is None:
        reason = (
            "PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's `postgresql`"
            " package to run the postgres backend tests"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip("!!! SKIPPED: " + reason)
    base = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    # initdb refuses to run as root: run the server as the postgres user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = base / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=60)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(base / "log"),
        "-w",
        "start",
    )
    run(
        str(bindir / "createdb"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        PostgresServer.database,
    )
    try:
        yield PostgresServer("127.0.0.1", port)
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def target_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A fresh, empty ``Target`` of ``kind``: local, s3, postgres or s3+postgres-lock."""
    if kind == "local":
        return Target(str(tmp_path / "state"))
    if kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return Target(server.url(server.new_database()))
    endpoint: str = request.getfixturevalue("moto_endpoint")
    url = f"s3://{make_bucket(endpoint)}/teams/reconciler?endpoint={endpoint}&region=us-east-1"
    if kind == "s3+postgres-lock":
        server = request.getfixturevalue("postgres_server")
        url += "&lock=postgres&lock_url=" + server.url(server.new_database())
    return Target(url, dict(S3_ENV))


BACKEND_KINDS = ("local", "s3", "postgres", "s3+postgres-lock")


@pytest.fixture(params=BACKEND_KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    made = target_for(request.param, request, tmp_path)
    yield made
    made.close_all()


def env_without_credentials(extra: Mapping[str, str] = {}) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HW_", "PG"))}
    return {**keep, **extra}
