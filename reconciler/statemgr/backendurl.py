"""Parse a state backend URL into a config. Pure: no I/O, the environment is passed in.

Valid forms::

    .reconciler/state                                   local (any path without a scheme)
    s3://BUCKET/PREFIX?endpoint=URL&region=R            s3, locked by conditional writes
        …&lock=postgres[&lock_url=postgres://…]         s3, locked in PostgreSQL
        …&lock=none                                     s3, unlocked (warns on every run)
        …&addressing=path                               path-style requests (MinIO)
    postgres://USER@HOST[:PORT]/DB[?sslmode=MODE]       PostgreSQL (also postgresql://)

Passwords and keys never go in a URL (they would end up in shell history,
CI logs and messages): PostgreSQL's comes from ``PGPASSWORD`` or
``PG_CONN_STR``, S3's keys from ``HW_ACCESS_KEY``/``HW_SECRET_KEY`` or
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, read when the backend opens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from reconciler.masking import register
from reconciler.statemgr.errors import BackendConfigError

__all__ = [
    "LOCK_URL_ENV",
    "VALID_FORMS",
    "BackendConfig",
    "LocalConfig",
    "PostgresConfig",
    "S3Config",
    "parse_backend_url",
]

LOCK_URL_ENV = "RECONCILER_LOCK_URL"
VALID_FORMS = (
    "a directory path, s3://BUCKET/PREFIX?endpoint=URL&region=R[&lock=postgres|none],"
    " or postgres://USER@HOST:PORT/DB"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_KEYS = ("endpoint", "region", "lock", "lock_url", "addressing")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class LocalConfig:
    path: Path

    def describe(self) -> str:
        return str(self.path)

    def identity(self) -> str:
        # A directory is relative to where a run starts: "local" is all two
        # machines can compare (the state's lineage tells two directories apart).
        return "local"


@dataclass(frozen=True)
class PostgresConfig:
    user: str
    host: str
    port: int
    database: str
    sslmode: str = ""

    def describe(self) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.database}"

    def identity(self) -> str:
        """Which database, whoever connects to it (no user, no password)."""
        return f"postgres://{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str
    """Key prefix without leading or trailing ``/``; may be empty."""
    endpoint: str = ""
    """Empty: AWS S3 of ``region``."""
    region: str = ""
    lock: Literal["s3", "postgres", "none"] = "s3"
    lock_postgres: PostgresConfig | None = None
    addressing: Literal["auto", "path", "virtual"] = "auto"

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint}" if self.endpoint else where

    def identity(self) -> str:
        """Which state objects: the bucket and prefix (the same through any endpoint)."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


BackendConfig = LocalConfig | S3Config | PostgresConfig


def parse_backend_url(text: str, env: Mapping[str, str]) -> BackendConfig:
    """The backend ``text`` names; ``BackendConfigError`` (one line) if it can't be used.

    ``env`` supplies ``RECONCILER_LOCK_URL`` for ``lock=postgres``.
    """
    text = text.strip()
    if not text:
        raise _error(text, "it is empty")
    match = _SCHEME.match(text)
    if match is None:
        return LocalConfig(Path(text))
    _redacted(text)  # registers any secret it holds before a message could name it
    scheme = match.group(1).lower()
    if scheme == "s3":
        return _parse_s3(text, env)
    if scheme in ("postgres", "postgresql"):
        return _parse_postgres(text, text)
    raise _error(text, f"unknown scheme {scheme!r}")


def _parse_s3(text: str, env: Mapping[str, str]) -> S3Config:
    parts = urlsplit(text)
    if parts.username is not None or parts.password is not None:
        raise _error(text, "keys don't go in the URL; set HW_ACCESS_KEY and HW_SECRET_KEY")
    bucket = parts.hostname or ""
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise _error(text, f"bucket {bucket!r} is not a valid name (3-63 of a-z, 0-9, '.', '-')")
    params = _query(text, parts.query, _S3_KEYS)
    endpoint = params.get("endpoint", "")
    if endpoint:
        endpoint_parts = urlsplit(endpoint)
        if endpoint_parts.scheme not in ("http", "https") or not endpoint_parts.hostname:
            raise _error(text, f"endpoint {_redacted(endpoint)!r} must be an http:// or https://"
                               " URL")
        if endpoint_parts.username is not None or endpoint_parts.password is not None:
            raise _error(text, "the endpoint can't hold credentials")
    region = params.get("region", "")
    if not endpoint and not region:
        raise _error(text, "give endpoint=URL (OBS, MinIO) or region=R (AWS S3)")
    lock = params.get("lock", "s3")
    if lock not in ("s3", "postgres", "none"):
        raise _error(text, f"lock={lock!r} is not one of s3, postgres, none")
    lock_postgres = None
    lock_url = params.get("lock_url") or (env.get(LOCK_URL_ENV, "") if lock == "postgres" else "")
    if "lock_url" in params and lock != "postgres":
        raise _error(text, "lock_url only goes with lock=postgres")
    if lock == "postgres":
        if not lock_url:
            raise _error(text, f"lock=postgres needs lock_url=postgres://… or {LOCK_URL_ENV}")
        lock_postgres = _parse_postgres(lock_url, text)
    addressing = params.get("addressing", "auto")
    if addressing not in ("auto", "path", "virtual"):
        raise _error(text, f"addressing={addressing!r} is not one of auto, path, virtual")
    return S3Config(
        bucket=bucket,
        prefix=parts.path.strip("/"),
        endpoint=endpoint.rstrip("/"),
        region=region,
        lock=lock,  # type: ignore[arg-type]  # checked against the Literal just above
        lock_postgres=lock_postgres,
        addressing=addressing,  # type: ignore[arg-type]  # checked just above
    )


def _parse_postgres(url: str, whole: str) -> PostgresConfig:
    parts = urlsplit(url)
    if not _SCHEME.match(url) or parts.scheme.lower() not in ("postgres", "postgresql"):
        raise _error(whole, "the lock URL must be postgres://USER@HOST:PORT/DB")
    if parts.password is not None:
        raise _error(whole, "the password doesn't go in the URL; set PGPASSWORD")
    if not parts.username:
        raise _error(whole, "postgres:// needs a user: postgres://USER@HOST:PORT/DB")
    if not parts.hostname:
        raise _error(whole, "postgres:// needs a host: postgres://USER@HOST:PORT/DB")
    try:
        port = parts.port or 5432
    except ValueError:
        raise _error(whole, "the port must be a number from 1 to 65535") from None
    database = parts.path.strip("/")
    if not database or "/" in database:
        raise _error(whole, "postgres:// needs one database name: postgres://USER@HOST:PORT/DB")
    params = _query(whole, parts.query, ("sslmode",))
    sslmode = params.get("sslmode", "")
    if sslmode and sslmode not in _SSLMODES:
        raise _error(whole, f"sslmode={sslmode!r} is not one of {', '.join(_SSLMODES)}")
    return PostgresConfig(
        user=parts.username, host=parts.hostname, port=port, database=database, sslmode=sslmode
    )


def _query(whole: str, query: str, known: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in known:
            raise _error(whole, f"unknown parameter {key!r} (known: {', '.join(known)})")
        if key in params:
            raise _error(whole, f"parameter {key!r} is given twice")
        params[key] = value
    return params


def _error(text: str, problem: str) -> BackendConfigError:
    return BackendConfigError(
        f"state backend {_redacted(text)!r}: {problem}. Valid forms: {VALID_FORMS}"
    )


_SAFE_PARAMETERS = frozenset({*_S3_KEYS, "sslmode"})
"""Query parameters whose values an error may show (they configure, they don't
authenticate); every other one's value is hidden: ``secret_key=``,
``X-Amz-Security-Token=``, ``password=``, ``sslpassword=``, or a typo of any."""
_USERINFO = re.compile(r"(://[^/?#@:]*):([^/?#@]*)@")


def _redacted(text: str) -> str:
    """``text`` without any password or key it holds: ``user:SECRET@`` becomes
    ``user:***@``, and the value of any query parameter but the known settings
    ``***`` (a nested ``lock_url`` is redacted the same way). The hidden values
    are also registered with the redactor, so no other message shows them."""
    base, mark, query = text.partition("?")
    base = unquote(base)
    for match in _USERINFO.finditer(base):
        register([match.group(2)])
    base = _USERINFO.sub(r"\1:***@", base)
    if not mark:
        return base
    parts = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _SAFE_PARAMETERS:
            shown = _redacted(value) if _SCHEME.match(value) else value
        else:
            register([value])
            shown = "***"
        parts.append(f"{key}={shown}")
    return f"{base}?{'&'.join(parts)}"
