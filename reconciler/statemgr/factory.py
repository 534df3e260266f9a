"""``open_backend``: a ``StateBackend`` from a URL or a path.

The s3 and postgres backends import their clients (botocore, psycopg) only
when chosen, so the local default needs neither installed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconciler.statemgr.backend import Locker, StateBackend
from reconciler.statemgr.backendurl import (
    BackendConfig,
    LocalConfig,
    PostgresConfig,
    S3Config,
    parse_backend_url,
)
from reconciler.statemgr.errors import BackendConfigError
from reconciler.statemgr.local import LocalBackend

__all__ = ["open_backend"]


def open_backend(url_or_path: str, env: Mapping[str, str] | None = None) -> StateBackend:
    """The backend ``url_or_path`` names (see ``statemgr.backendurl`` for the forms).

    ``env`` (default ``os.environ``) supplies credentials. Raises
    ``BackendConfigError`` with a one-line message for anything unusable.
    """
    environ = os.environ if env is None else env
    config = parse_backend_url(url_or_path, environ)
    backend = _open(config, environ)
    backend.identity = config.identity()
    return backend


def _open(config: BackendConfig, environ: Mapping[str, str]) -> StateBackend:
    if isinstance(config, LocalConfig):
        return LocalBackend(config.path)
    try:
        if isinstance(config, PostgresConfig):
            from reconciler.statemgr.postgres import PostgresBackend

            return PostgresBackend(config, environ)
        return _open_s3(config, environ)
    except ModuleNotFoundError as exc:
        extra = {"psycopg": "postgres", "psycopg_pool": "postgres", "botocore": "s3"}.get(
            (exc.name or "").split(".")[0]
        )
        if extra is None:
            raise
        raise BackendConfigError(
            f"the {extra} state backend needs {exc.name}, which is not installed:"
            f" pip install 'reconciler[{extra}]'"
        ) from None


def _open_s3(config: S3Config, env: Mapping[str, str]) -> StateBackend:
    from reconciler.statemgr.s3 import NoLocker, S3Backend, S3Credentials

    credentials = S3Credentials.from_env(env)
    locker: Locker | None = None
    if config.lock_postgres is not None:
        from reconciler.statemgr.postgres import PostgresLocker

        locker = PostgresLocker(config.lock_postgres, env)
    elif config.lock == "none":
        locker = NoLocker(config.describe())
    return S3Backend(config, credentials, locker)
