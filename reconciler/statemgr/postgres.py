"""The ``postgres`` backend: states, locks and journals in PostgreSQL ≥ 13 (psycopg 3).

Four tables, created on first use (``CREATE TABLE IF NOT EXISTS`` in one
transaction that holds an advisory lock, so two first users don't race)::

    reconciler_state    cluster PK, lineage, serial, document (the state JSON)
    reconciler_lock     cluster PK, lock_id, info (LockInfo JSON), session pid
    reconciler_journal  id bigserial PK, cluster, record (JSON text, key order kept)
    reconciler_blob     key PK, data (small documents of the tool: notify digests)

A write is ``UPDATE … WHERE cluster = … AND lineage = … AND serial = …`` (or
``INSERT … ON CONFLICT DO NOTHING`` for the first): no row touched means
another writer got there first.

The lock is ``pg_try_advisory_lock`` on a key derived from the cluster name,
held by a connection of its own for as long as the lock is held. PostgreSQL
drops it when that session ends, however the holder died, so a crashed run
never wedges the next one. The ``reconciler_lock`` row only says who holds
it, for the refusal message; after a crash it lingers until the next holder
replaces it (that is why it is an upsert and not ``ON CONFLICT DO NOTHING``:
the advisory lock, not the row, decides who holds the lock).

Every other operation borrows a connection from a pool (psycopg_pool) for
just that operation: apply writes the states of many clusters at once from
``asyncio.to_thread`` threads, and a psycopg connection used by two threads
at once interleaves their transactions (``OutOfOrderTransactionNesting``).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from reconciler.masking import register
from reconciler.model.state import StateFile
from reconciler.statemgr.backend import (
    Locker,
    StateBackend,
    check_blob_key,
    check_expected,
    journal_record,
    lock_info_from_json,
    lock_info_to_json,
    poll_lock,
    refusal,
)
from reconciler.statemgr.backendurl import PostgresConfig
from reconciler.statemgr.errors import BackendError, CorruptStateError, StateConflictError
from reconciler.statemgr.lock import LockInfo
from reconciler.statemgr.statefile import from_json, to_json

__all__ = ["PostgresBackend", "PostgresLocker", "connect"]

# Connections one process keeps open at most; more threads than this wait
# (each operation is one short statement or transaction).
_POOL_SIZE = 10
# How long an operation waits for a free connection before it is an error.
_POOL_WAIT_S = 60.0

# Arbitrary constant: the advisory lock that serialises schema creation.
_SCHEMA_LOCK_KEY = 0x7265636F6E63
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS reconciler_state (
        cluster text PRIMARY KEY,
        lineage text NOT NULL,
        serial bigint NOT NULL,
        document text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS reconciler_lock (
        cluster text PRIMARY KEY,
        lock_id text NOT NULL,
        info text NOT NULL,
        session_pid integer NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS reconciler_journal (
        id bigserial PRIMARY KEY,
        cluster text NOT NULL,
        record text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS reconciler_journal_cluster ON reconciler_journal (cluster, id)",
    """CREATE TABLE IF NOT EXISTS reconciler_blob (
        key text PRIMARY KEY,
        data bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
)
# The advisory lock key of a cluster: 64 bits of a hash, so two names
# colliding (and so sharing a lock) is out of reach in practice.
_KEY = "hashtextextended('reconciler-lock:' || %s, 0)"


def connect(
    config: PostgresConfig, env: Mapping[str, str], *, autocommit: bool = False
) -> psycopg.Connection[Any]:
    """A connection to ``config``'s database; the password comes from ``env`` only.

    ``PGPASSWORD``, else the ``password`` of the libpq connection string in
    ``PG_CONN_STR``. Errors never show it.
    """
    try:
        return psycopg.connect(autocommit=autocommit, **_options(config, env))
    except psycopg.Error as exc:
        raise _unreachable(config, exc) from None


def _options(config: PostgresConfig, env: Mapping[str, str]) -> dict[str, Any]:
    password = env.get("PGPASSWORD", "")
    if not password and env.get("PG_CONN_STR"):
        try:
            password = str(conninfo_to_dict(env["PG_CONN_STR"]).get("password") or "")
        except psycopg.ProgrammingError:
            raise BackendError(
                "PG_CONN_STR is not a valid libpq connection string"
                " (e.g. 'password=… sslmode=require')"
            ) from None
    options: dict[str, Any] = {
        "user": config.user,
        "host": config.host,
        "port": config.port,
        "dbname": config.database,
        "connect_timeout": 10,
        "application_name": "reconciler",
    }
    if password:
        options["password"] = str(password)
        register([str(password)])  # PG_CONN_STR's part: masked as well as the whole string
    if config.sslmode:
        options["sslmode"] = config.sslmode
    return options


def _unreachable(config: PostgresConfig, exc: Exception) -> BackendError:
    # libpq's text names host and user, never the password.
    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return BackendError(f"postgres state backend: can't connect to {config.describe()}: {reason}")


class _Connections:
    """A pool of autocommit connections, one borrowed per operation, safe across threads.

    Opened on first use: a direct connection first, so that a wrong host or
    password fails with libpq's reason (a pool would only time out), and it
    creates the schema.
    """

    def __init__(self, config: PostgresConfig, env: Mapping[str, str]) -> None:
        self.config = config
        self._env = env
        self._guard = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None

    def _opened(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._guard:
            if self._pool is None:
                with connect(self.config, self._env, autocommit=True) as first:
                    ensure_schema(first)
                pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                    kwargs={**_options(self.config, self._env), "autocommit": True},
                    min_size=1,
                    max_size=_POOL_SIZE,
                    open=False,
                    timeout=_POOL_WAIT_S,
                    check=ConnectionPool.check_connection,
                    name="reconciler-state",
                )
                pool.open()
                self._pool = pool
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        pool = self._opened()
        try:
            conn = pool.getconn()
        except PoolTimeout:
            # Say why, if the server is gone; else the pool was busy too long.
            connect(self.config, self._env).close()
            raise BackendError(
                f"postgres state backend: no free connection to {self.config.describe()}"
                f" within {_POOL_WAIT_S:g}s"
            ) from None
        try:
            yield conn
        finally:
            pool.putconn(conn)

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement on a borrowed connection; its rows (none for a write)."""
        with self.connection() as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []

    def close(self) -> None:
        with self._guard:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        for statement in _SCHEMA:
            conn.execute(statement)


class PostgresLocker:
    """Advisory lock per cluster, plus a ``reconciler_lock`` row naming the holder."""

    def __init__(
        self,
        config: PostgresConfig,
        env: Mapping[str, str],
        connections: _Connections | None = None,
    ) -> None:
        self.config = config
        self._env = dict(env)
        self.description = config.describe()
        # Reading and breaking locks borrow pooled connections; each held lock
        # has a connection of its own (closing it is what releases the lock).
        self._db = connections or _Connections(config, self._env)

    @contextmanager
    def _hold(self, cluster_name: str, operation: str, timeout_s: float) -> Iterator[LockInfo]:
        self._db.execute("SELECT 1")  # the schema exists before the first lock row
        conn = connect(self.config, self._env, autocommit=True)
        try:
            poll_lock(
                lambda: _scalar(conn, f"SELECT pg_try_advisory_lock({_KEY})", (cluster_name,)),
                timeout_s,
                lambda: refusal(
                    self.description,
                    cluster_name,
                    self.lock_info(cluster_name),
                    timeout_s,
                    stale_hint="its database session is still open",
                ),
            )
            info = LockInfo.for_this_process(operation)
            conn.execute(
                "INSERT INTO reconciler_lock (cluster, lock_id, info, session_pid)"
                " VALUES (%s, %s, %s, pg_backend_pid())"
                " ON CONFLICT (cluster) DO UPDATE SET lock_id = EXCLUDED.lock_id,"
                " info = EXCLUDED.info, session_pid = EXCLUDED.session_pid",
                (cluster_name, info.id, lock_info_to_json(info)),
            )
            yield info
            with contextlib.suppress(psycopg.OperationalError):
                # Fails only if the session is gone (e.g. force-unlocked): the
                # lock went with it and the row is someone else's business now.
                conn.execute(
                    "DELETE FROM reconciler_lock WHERE cluster = %s AND lock_id = %s",
                    (cluster_name, info.id),
                )
        finally:
            conn.close()  # ends the session, which releases the advisory lock

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        return self._hold(cluster_name, operation, timeout_s)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        rows = self._db.execute(
            "SELECT info FROM reconciler_lock WHERE cluster = %s", (cluster_name,)
        )
        return lock_info_from_json(rows[0][0]) if rows else None

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        """Forget the holder and end the database session holding the advisory lock.

        Ending a session needs the same role or ``pg_signal_backend``. A
        holder that is still running loses its lock at once, so only do this
        when it is gone or hung.
        """
        info = self.lock_info(cluster_name)
        self._db.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
            " JOIN pg_database d ON d.oid = l.database AND d.datname = current_database()"
            f" CROSS JOIN (SELECT {_KEY} AS k) key"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = ((key.k >> 32) & 4294967295)"
            " AND l.objid::bigint = (key.k & 4294967295)"
            " AND l.pid <> pg_backend_pid()",
            (cluster_name,),
        )
        self._db.execute("DELETE FROM reconciler_lock WHERE cluster = %s", (cluster_name,))
        return info

    def close(self) -> None:
        self._db.close()


class PostgresBackend(StateBackend):
    """States and journals in ``config``'s database, locked by ``PostgresLocker``."""

    def __init__(self, config: PostgresConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.description = config.describe()
        self._env = dict(os.environ if env is None else env)
        self._db = _Connections(config, self._env)
        self._locker = PostgresLocker(config, self._env, self._db)

    @property
    def locker(self) -> Locker:
        return self._locker

    def list(self) -> builtins.list[str]:
        rows = self._db.execute("SELECT cluster FROM reconciler_state ORDER BY cluster")
        return sorted(row[0] for row in rows)

    def read(self, cluster_name: str) -> StateFile | None:
        rows = self._db.execute(
            "SELECT document FROM reconciler_state WHERE cluster = %s", (cluster_name,)
        )
        if not rows:
            return None
        where = f"{self.description} reconciler_state[{cluster_name}]"
        state = from_json(rows[0][0], source=where)
        if state.cluster_name != cluster_name:
            raise CorruptStateError(
                where, f"it holds cluster {state.cluster_name!r}, not {cluster_name!r}"
            )
        return state

    def replace(self, expected: StateFile | None, state: StateFile) -> None:
        where = f"{self.description} reconciler_state[{state.cluster_name}]"
        document = to_json(state)
        with self._db.connection() as conn, conn.transaction():
            if expected is None:
                cursor = conn.execute(
                    "INSERT INTO reconciler_state (cluster, lineage, serial, document)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (cluster) DO NOTHING",
                    (state.cluster_name, state.lineage, state.serial, document),
                )
            else:
                cursor = conn.execute(
                    "UPDATE reconciler_state SET lineage = %s, serial = %s, document = %s,"
                    " updated_at = now() WHERE cluster = %s AND lineage = %s AND serial = %s",
                    (
                        state.lineage,
                        state.serial,
                        document,
                        state.cluster_name,
                        expected.lineage,
                        expected.serial,
                    ),
                )
            written = cursor.rowcount == 1
        if written:
            return
        # Nothing written: say what is there instead.
        check_expected(where, self.read(state.cluster_name), expected)
        raise StateConflictError(f"{where} changed while being written; plan again")

    def remove(self, cluster_name: str, *, with_journal: bool = False) -> None:
        with self._db.connection() as conn, conn.transaction():
            if with_journal:
                conn.execute("DELETE FROM reconciler_journal WHERE cluster = %s", (cluster_name,))
            conn.execute("DELETE FROM reconciler_state WHERE cluster = %s", (cluster_name,))

    def list_journals(self) -> builtins.list[str]:
        rows = self._db.execute("SELECT DISTINCT cluster FROM reconciler_journal")
        return sorted(row[0] for row in rows)

    def append_journal(self, cluster_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        written = journal_record(record)
        self._db.execute(
            "INSERT INTO reconciler_journal (cluster, record) VALUES (%s, %s)",
            (cluster_name, json.dumps(written, ensure_ascii=False, separators=(",", ":"))),
        )
        return written

    def read_journal(self, cluster_name: str) -> builtins.list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, record FROM reconciler_journal WHERE cluster = %s ORDER BY id",
            (cluster_name,),
        )
        records: builtins.list[dict[str, Any]] = []
        for row_id, text in rows:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise CorruptStateError(
                    f"{self.description} reconciler_journal[{row_id}]",
                    "not a JSON object",
                    kind="journal record",
                )
            records.append(record)
        return records

    def read_blob(self, key: str) -> bytes | None:
        rows = self._db.execute("SELECT data FROM reconciler_blob WHERE key = %s",
                                (check_blob_key(key),))
        return bytes(rows[0][0]) if rows else None

    def write_blob(self, key: str, data: bytes) -> None:
        self._db.execute(
            "INSERT INTO reconciler_blob (key, data) VALUES (%s, %s) ON CONFLICT (key)"
            " DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
            (check_blob_key(key), data))

    def close(self) -> None:
        super().close()  # the locker's close closes the pool they share


def _scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]
