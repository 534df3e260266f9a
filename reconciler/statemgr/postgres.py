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
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

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
    try:
        return psycopg.connect(autocommit=autocommit, **options)
    except psycopg.Error as exc:
        # libpq's text names host and user, never the password.
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BackendError(
            f"postgres state backend: can't connect to {config.describe()}: {reason}"
        ) from None


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        for statement in _SCHEMA:
            conn.execute(statement)


class PostgresLocker:
    """Advisory lock per cluster, plus a ``reconciler_lock`` row naming the holder."""

    def __init__(self, config: PostgresConfig, env: Mapping[str, str]) -> None:
        self.config = config
        self._env = dict(env)
        self.description = config.describe()
        self._conn: psycopg.Connection[Any] | None = None

    def _shared(self) -> psycopg.Connection[Any]:
        # One autocommit connection for reading and breaking locks; each held
        # lock has its own (closing it is what releases the lock).
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.config, self._env, autocommit=True)
            ensure_schema(self._conn)
        return self._conn

    @contextmanager
    def _hold(self, cluster_name: str, operation: str, timeout_s: float) -> Iterator[LockInfo]:
        self._shared()
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
        row = (
            self._shared()
            .execute("SELECT info FROM reconciler_lock WHERE cluster = %s", (cluster_name,))
            .fetchone()
        )
        return None if row is None else lock_info_from_json(row[0])

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        """Forget the holder and end the database session holding the advisory lock.

        Ending a session needs the same role or ``pg_signal_backend``. A
        holder that is still running loses its lock at once, so only do this
        when it is gone or hung.
        """
        conn = self._shared()
        info = self.lock_info(cluster_name)
        conn.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
            " JOIN pg_database d ON d.oid = l.database AND d.datname = current_database()"
            f" CROSS JOIN (SELECT {_KEY} AS k) key"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = ((key.k >> 32) & 4294967295)"
            " AND l.objid::bigint = (key.k & 4294967295)"
            " AND l.pid <> pg_backend_pid()",
            (cluster_name,),
        )
        conn.execute("DELETE FROM reconciler_lock WHERE cluster = %s", (cluster_name,))
        return info

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PostgresBackend(StateBackend):
    """States and journals in ``config``'s database, locked by ``PostgresLocker``."""

    def __init__(self, config: PostgresConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.description = config.describe()
        self._env = dict(os.environ if env is None else env)
        self._locker = PostgresLocker(config, self._env)
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def locker(self) -> Locker:
        return self._locker

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.config, self._env, autocommit=True)
            ensure_schema(self._conn)
        return self._conn

    def list(self) -> builtins.list[str]:
        rows = self._db().execute("SELECT cluster FROM reconciler_state ORDER BY cluster")
        return sorted(row[0] for row in rows)

    def read(self, cluster_name: str) -> StateFile | None:
        row = (
            self._db()
            .execute("SELECT document FROM reconciler_state WHERE cluster = %s", (cluster_name,))
            .fetchone()
        )
        if row is None:
            return None
        where = f"{self.description} reconciler_state[{cluster_name}]"
        state = from_json(row[0], source=where)
        if state.cluster_name != cluster_name:
            raise CorruptStateError(
                where, f"it holds cluster {state.cluster_name!r}, not {cluster_name!r}"
            )
        return state

    def replace(self, expected: StateFile | None, state: StateFile) -> None:
        conn = self._db()
        where = f"{self.description} reconciler_state[{state.cluster_name}]"
        document = to_json(state)
        with conn.transaction():
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
            if cursor.rowcount == 1:
                return
        # Nothing written: say what is there instead.
        check_expected(where, self.read(state.cluster_name), expected)
        raise StateConflictError(f"{where} changed while being written; plan again")

    def remove(self, cluster_name: str) -> None:
        conn = self._db()
        with conn.transaction():
            conn.execute("DELETE FROM reconciler_journal WHERE cluster = %s", (cluster_name,))
            conn.execute("DELETE FROM reconciler_state WHERE cluster = %s", (cluster_name,))

    def append_journal(self, cluster_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        written = journal_record(record)
        self._db().execute(
            "INSERT INTO reconciler_journal (cluster, record) VALUES (%s, %s)",
            (cluster_name, json.dumps(written, ensure_ascii=False, separators=(",", ":"))),
        )
        return written

    def read_journal(self, cluster_name: str) -> builtins.list[dict[str, Any]]:
        rows = self._db().execute(
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
        row = self._db().execute("SELECT data FROM reconciler_blob WHERE key = %s",
                                 (check_blob_key(key),)).fetchone()
        return None if row is None else bytes(row[0])

    def write_blob(self, key: str, data: bytes) -> None:
        self._db().execute(
            "INSERT INTO reconciler_blob (key, data) VALUES (%s, %s) ON CONFLICT (key)"
            " DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
            (check_blob_key(key), data))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        super().close()


def _scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]
