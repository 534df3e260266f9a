"""The ``s3`` backend: states, journals and locks as objects in an S3-compatible bucket.

Layout under ``PREFIX/`` (cluster names encoded as in ``statemgr.paths``)::

    prod.json                                 the state
    prod.lock                                 the lock: the holder's LockInfo
    prod.journal/<time_ns>-<seq>-<rand>.json  one object per journal record
    .reconciler-probe-<uuid>                  short-lived, see ``probe_conditional_writes``
    .blobs/<key>                              the tool's small documents (notify digests)

A state write is ``PUT`` with ``If-Match: <ETag read>`` (``If-None-Match: *``
for the first), after checking the stored lineage and serial, so two writers
can't both win. The lock is a ``PUT`` of the lock object with
``If-None-Match: *``. Stores that ignore those headers (Huawei OBS today)
would let two holders in: on first use of a bucket a probe checks that a
second create-only ``PUT`` answers 412 and the lock is refused if it does
not; the state can then be locked in PostgreSQL (``lock=postgres``).

Credentials come from the environment only (see ``S3Credentials``); botocore's
own config and credential files, and ``AWS_PROFILE``, are ignored.
"""

from __future__ import annotations

import builtins
import itertools
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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
from reconciler.statemgr.backendurl import S3Config
from reconciler.statemgr.errors import (
    BackendConfigError,
    BackendError,
    CorruptStateError,
    LockError,
    StateConflictError,
)
from reconciler.statemgr.lock import LockInfo
from reconciler.statemgr.paths import decode_cluster_name, encode_cluster_name
from reconciler.statemgr.statefile import from_json, to_json

__all__ = ["NoLocker", "S3Backend", "S3Credentials", "S3Locker", "probe_conditional_writes"]

log = logging.getLogger(__name__)

_journal_seq = itertools.count()
_journal_seq_lock = threading.Lock()
# botocore's own files and profile are not consulted: credentials come from
# the environment variables named in S3Credentials, nowhere else.
_NO_FILES = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
}


_shared_session: botocore.session.Session | None = None
_session_lock = threading.Lock()


def _session() -> Any:
    """One botocore session per process: loading its service models takes ~0.3 s."""
    global _shared_session
    if _shared_session is None:
        _shared_session = botocore.session.Session(session_vars=_NO_FILES)
    return _shared_session


@dataclass(frozen=True)
class S3Credentials:
    """Access key pair taken from the environment; never shown by ``repr``/``str``."""

    source: str
    """Which variables they came from, for messages."""
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Credentials:
        """``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` if set, else ``HW_ACCESS_KEY``/…."""
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return cls(
                "AWS_ACCESS_KEY_ID",
                env["AWS_ACCESS_KEY_ID"],
                env["AWS_SECRET_ACCESS_KEY"],
                env.get("AWS_SESSION_TOKEN", ""),
            )
        if env.get("HW_ACCESS_KEY") and env.get("HW_SECRET_KEY"):
            return cls("HW_ACCESS_KEY", env["HW_ACCESS_KEY"], env["HW_SECRET_KEY"])
        raise BackendConfigError(
            "the s3 state backend needs credentials: set HW_ACCESS_KEY and HW_SECRET_KEY"
            " (Huawei OBS takes the account's AK/SK), or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY; they are read from the environment only"
        )


class _Bucket:
    """The bucket and prefix with the few S3 calls the backend makes, errors translated."""

    def __init__(self, config: S3Config, credentials: S3Credentials) -> None:
        self.config = config
        self.description = config.describe()
        with _session_lock:
            self.client: Any = _session().create_client(
                "s3",
                endpoint_url=config.endpoint or None,
                region_name=config.region or "us-east-1",
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                aws_session_token=credentials.session_token or None,
                config=Config(
                    s3={"addressing_style": config.addressing},
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=10,
                    read_timeout=30,
                    # Newer botocore adds CRC checksums by default, which several
                    # S3-compatible stores (OBS, older MinIO) reject.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )

    def key(self, name: str) -> str:
        return f"{self.config.prefix}/{name}" if self.config.prefix else name

    def where(self, name: str) -> str:
        return f"s3://{self.config.bucket}/{self.key(name)}"

    def get(self, name: str) -> tuple[bytes, str] | None:
        """(body, ETag), or None if there is no such object."""
        try:
            response = self.client.get_object(Bucket=self.config.bucket, Key=self.key(name))
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._failed("read", name, exc) from None
        except BotoCoreError as exc:
            raise self._failed("read", name, exc) from None

    def put(self, name: str, body: bytes, *, if_match: str = "", create_only: bool = False) -> bool:
        """Write the object; False when its precondition failed (412, or 409 on a race)."""
        conditions: dict[str, str] = {}
        if create_only:
            conditions["IfNoneMatch"] = "*"
        if if_match:
            conditions["IfMatch"] = if_match
        try:
            self.client.put_object(
                Bucket=self.config.bucket,
                Key=self.key(name),
                Body=body,
                ContentType="application/json",
                **conditions,
            )
            return True
        except ClientError as exc:
            # 409 ConditionalRequestConflict: a concurrent conditional write won.
            if conditions and _status(exc) in (409, 412):
                return False
            if if_match and _code(exc) in ("NoSuchKey", "404"):
                return False
            raise self._failed("write", name, exc) from None
        except BotoCoreError as exc:
            raise self._failed("write", name, exc) from None

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self.key(name))
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("delete", name, exc) from None

    def list(self, name_prefix: str, *, delimiter: str = "") -> Iterator[str]:
        """Names (relative to the prefix) of the objects starting with ``name_prefix``."""
        base = self.key("")
        extra = {"Delimiter": delimiter} if delimiter else {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.key(name_prefix), **extra
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(base) :]
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("list", name_prefix + "*", exc) from None

    def folders(self) -> Iterator[str]:
        """Names (relative to the prefix, ending in ``/``) of the top-level "folders"."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.key(""), Delimiter="/"
            )
            base = self.key("")
            for page in pages:
                for item in page.get("CommonPrefixes", []):
                    yield item["Prefix"][len(base) :]
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("list", "*/", exc) from None

    def _failed(self, verb: str, name: str, exc: Exception) -> BackendError:
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return BackendError(
            f"s3 state backend: can't {verb} {self.where(name)}"
            f"{' at ' + self.config.endpoint if self.config.endpoint else ''}: {detail}"
        )


def probe_conditional_writes(bucket: _Bucket) -> bool:
    """True when the store refuses a second create-only PUT of an object with 412.

    Creates and removes one probe object under the prefix.
    """
    name = f".reconciler-probe-{uuid.uuid4()}"
    try:
        first = bucket.put(name, b"{}", create_only=True)
        try:
            second = bucket.put(name, b"{}", create_only=True)
        except BackendError:
            # e.g. 501 NotImplemented for the header: not honoured either.
            second = True
        return first and not second
    finally:
        bucket.delete(name)


class S3Locker:
    """The lock as a create-only lock object holding the holder's ``LockInfo``."""

    def __init__(self, bucket: _Bucket) -> None:
        self._bucket = bucket
        self.description = bucket.description
        self._honours_conditions: bool | None = None

    @contextmanager
    def _hold(self, cluster_name: str, operation: str, timeout_s: float) -> Iterator[LockInfo]:
        self._check_store()
        name = _stem(cluster_name) + ".lock"
        info = LockInfo.for_this_process(operation)
        body = lock_info_to_json(info).encode()
        poll_lock(
            lambda: self._bucket.put(name, body, create_only=True),
            timeout_s,
            lambda: refusal(
                self._bucket.where(name),
                cluster_name,
                self.lock_info(cluster_name),
                timeout_s,
                stale_hint="its lock object outlived it",
            ),
        )
        try:
            yield info
        finally:
            current = self.lock_info(cluster_name)
            # Only remove our own lock: after a force-unlock it may be someone else's.
            if current is not None and current.id == info.id:
                self._bucket.delete(name)

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        return self._hold(cluster_name, operation, timeout_s)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        found = self._bucket.get(_stem(cluster_name) + ".lock")
        return None if found is None else lock_info_from_json(found[0])

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        info = self.lock_info(cluster_name)
        self._bucket.delete(_stem(cluster_name) + ".lock")
        return info

    def close(self) -> None:
        """Nothing held between calls."""

    def _check_store(self) -> None:
        if self._honours_conditions is None:
            self._honours_conditions = probe_conditional_writes(self._bucket)
        if not self._honours_conditions:
            raise LockError(
                f"the S3 store {self.description} does not honour conditional writes"
                " (a second PUT with If-None-Match: * was not refused with 412), so it"
                " can't hold a lock safely; Huawei OBS is such a store today. Lock"
                " elsewhere with &lock=postgres (and RECONCILER_LOCK_URL=postgres://…),"
                " or run unlocked with &lock=none (a warning on every run)"
            )


class NoLocker:
    """``lock=none``: no lock at all; every ``lock`` logs a warning saying so."""

    def __init__(self, description: str) -> None:
        self.description = description

    @contextmanager
    def _hold(self, cluster_name: str, operation: str) -> Iterator[LockInfo]:
        log.warning(
            "state backend %s runs with lock=none: cluster %r is NOT locked; a concurrent"
            " run can only be caught by the state's serial check",
            self.description,
            cluster_name,
        )
        yield LockInfo.for_this_process(operation)

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        return self._hold(cluster_name, operation)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        return None

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        return None

    def close(self) -> None:
        """Nothing to release."""


class S3Backend(StateBackend):
    """States and journals in ``config``'s bucket; locked by ``locker`` (S3Locker by default)."""

    def __init__(
        self, config: S3Config, credentials: S3Credentials, locker: Locker | None = None
    ) -> None:
        self._bucket = _Bucket(config, credentials)
        self.description = self._bucket.description
        self._locker: Locker = locker or S3Locker(self._bucket)

    @property
    def locker(self) -> Locker:
        return self._locker

    def list(self) -> builtins.list[str]:
        names = (
            decode_cluster_name(name[: -len(".json")])
            for name in self._bucket.list("", delimiter="/")
            if name.endswith(".json") and not name.startswith(".") and "/" not in name
        )
        return sorted(names)

    def read(self, cluster_name: str) -> StateFile | None:
        found = self._read(cluster_name)
        return None if found is None else found[0]

    def replace(self, expected: StateFile | None, state: StateFile) -> None:
        name = _stem(state.cluster_name) + ".json"
        found = self._read(state.cluster_name)
        current, etag = (None, "") if found is None else found
        check_expected(self._bucket.where(name), current, expected)
        body = to_json(state).encode()
        if not self._bucket.put(name, body, if_match=etag, create_only=not etag):
            raise StateConflictError(
                f"{self._bucket.where(name)} changed while being written (its ETag moved on);"
                " another run wrote it. Plan again."
            )

    def remove(self, cluster_name: str, *, with_journal: bool = False) -> None:
        if with_journal:
            for name in self._journal_names(cluster_name):
                self._bucket.delete(name)
        self._bucket.delete(_stem(cluster_name) + ".json")

    def list_journals(self) -> builtins.list[str]:
        suffix = ".journal/"
        return sorted(
            decode_cluster_name(name[: -len(suffix)])
            for name in self._bucket.folders()
            if name.endswith(suffix) and not name.startswith(".")
        )

    def append_journal(self, cluster_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        written = journal_record(record)
        with _journal_seq_lock:
            seq = next(_journal_seq)
        # Sortable: wall-clock time first, then this process's sequence, then
        # randomness so two writers never pick the same key.
        leaf = f"{time.time_ns():020d}-{seq:010d}-{secrets.token_hex(4)}.json"
        name = f"{_stem(cluster_name)}.journal/{leaf}"
        body = json.dumps(written, ensure_ascii=False, separators=(",", ":")).encode()
        self._bucket.put(name, body, create_only=True)
        return written

    def read_journal(self, cluster_name: str) -> builtins.list[dict[str, Any]]:
        records: builtins.list[dict[str, Any]] = []
        for name in self._journal_names(cluster_name):
            found = self._bucket.get(name)
            if found is None:  # removed since listed
                continue
            try:
                record = json.loads(found[0])
            except (ValueError, UnicodeDecodeError) as exc:
                raise CorruptStateError(
                    self._bucket.where(name), "not valid JSON", kind="journal record"
                ) from exc
            if not isinstance(record, dict):
                raise CorruptStateError(
                    self._bucket.where(name), "not a JSON object", kind="journal record"
                )
            records.append(record)
        return records

    def read_blob(self, key: str) -> bytes | None:
        found = self._bucket.get(".blobs/" + check_blob_key(key))
        return None if found is None else found[0]

    def write_blob(self, key: str, data: bytes) -> None:
        # Under a dot prefix: ``list`` skips names that start with a dot or hold a '/'.
        self._bucket.put(".blobs/" + check_blob_key(key), data)

    def _journal_names(self, cluster_name: str) -> builtins.list[str]:
        return sorted(self._bucket.list(_stem(cluster_name) + ".journal/"))

    def _read(self, cluster_name: str) -> tuple[StateFile, str] | None:
        name = _stem(cluster_name) + ".json"
        found = self._bucket.get(name)
        if found is None:
            return None
        data, etag = found
        where = self._bucket.where(name)
        state = from_json(data, source=where)
        if state.cluster_name != cluster_name:
            raise CorruptStateError(
                where, f"it holds cluster {state.cluster_name!r}, not {cluster_name!r}"
            )
        return state, etag


def _stem(cluster_name: str) -> str:
    return encode_cluster_name(cluster_name)


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or str(_status(exc))
    return type(exc).__name__


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
