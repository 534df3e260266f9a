"""``parse_backend_url`` and ``open_backend``: the URL forms and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.statemgr.backendurl import (
    LocalConfig,
    PostgresConfig,
    S3Config,
    parse_backend_url,
)
from reconciler.statemgr.errors import BackendConfigError
from reconciler.statemgr.factory import open_backend
from reconciler.statemgr.local import LocalBackend

LOCK = PostgresConfig("locker", "db.internal", 5433, "locks")


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (".reconciler/state", {}, LocalConfig(Path(".reconciler/state"))),
        ("/var/lib/reconciler", {}, LocalConfig(Path("/var/lib/reconciler"))),
        (
            "s3://my-bucket/teams/a/?endpoint=https://obs.cn-north-4.myhuaweicloud.com&region=cn-north-4",
            {},
            S3Config(
                "my-bucket", "teams/a", "https://obs.cn-north-4.myhuaweicloud.com", "cn-north-4"
            ),
        ),
        ("s3://my-bucket?region=eu-west-1", {}, S3Config("my-bucket", "", "", "eu-west-1")),
        (
            "s3://my-bucket/p?endpoint=http://127.0.0.1:9000&addressing=path&lock=none",
            {},
            S3Config("my-bucket", "p", "http://127.0.0.1:9000", "", "none", None, "path"),
        ),
        (
            "s3://my-bucket/p?region=r&lock=postgres",
            {"RECONCILER_LOCK_URL": "postgres://locker@db.internal:5433/locks"},
            S3Config("my-bucket", "p", "", "r", "postgres", LOCK),
        ),
        (
            "s3://my-bucket/p?region=r&lock=postgres&lock_url=postgres://locker@db.internal:5433/locks",
            {"RECONCILER_LOCK_URL": "postgres://other@elsewhere/x"},
            S3Config("my-bucket", "p", "", "r", "postgres", LOCK),
        ),
        ("postgres://app@db:5432/state", {}, PostgresConfig("app", "db", 5432, "state")),
        (
            "postgresql://app@db/state?sslmode=verify-full",
            {},
            PostgresConfig("app", "db", 5432, "state", "verify-full"),
        ),
    ],
)
def test_valid_forms(text: str, env: dict[str, str], expected: object) -> None:
    assert parse_backend_url(text, env) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty"),
        ("gcs://bucket/x", "unknown scheme 'gcs'"),
        ("s3://B/x?region=r", "bucket 'b' is not a valid name"),
        ("s3://ab/x?region=r", "bucket 'ab' is not a valid name"),
        ("s3://bucket/x", "give endpoint=URL"),
        ("s3://bucket/x?region=r&colour=blue", "unknown parameter 'colour'"),
        ("s3://bucket/x?region=r&region=q", "parameter 'region' is given twice"),
        ("s3://bucket/x?endpoint=obs.example.com", "must be an http:// or https:// URL"),
        ("s3://bucket/x?region=r&lock=dynamodb", "lock='dynamodb' is not one of"),
        ("s3://bucket/x?region=r&lock=postgres", "lock=postgres needs lock_url"),
        ("s3://bucket/x?region=r&lock_url=postgres://u@h/d", "only goes with lock=postgres"),
        ("s3://bucket/x?region=r&lock=postgres&lock_url=mysql://u@h/d", "must be postgres://"),
        ("s3://AKIAXXX:topsecret@bucket/x?region=r", "keys don't go in the URL"),
        ("postgres://db/state", "needs a user"),
        ("postgres://app@db:99999/state", "port must be a number"),
        ("postgres://app@db/", "needs one database name"),
        ("postgres://app@db/state?sslmode=maybe", "sslmode='maybe' is not one of"),
        ("postgres://app@db/state?timeout=3", "unknown parameter 'timeout'"),
        ("postgres://app:hunter2@db/state", "the password doesn't go in the URL"),
    ],
)
def test_invalid_forms_give_one_line_naming_problem_and_valid_forms(
    text: str, problem: str
) -> None:
    with pytest.raises(BackendConfigError) as raised:
        parse_backend_url(text, {})
    message = str(raised.value)
    assert problem in message
    assert "Valid forms:" in message and "postgres://USER@HOST:PORT/DB" in message
    assert "\n" not in message
    assert "hunter2" not in message and "topsecret" not in message


def test_a_password_in_a_lock_url_is_not_echoed() -> None:
    with pytest.raises(BackendConfigError) as raised:
        parse_backend_url(
            "s3://bucket/x?region=r&lock=postgres&lock_url=postgres%3A%2F%2Fu%3Ahunter2%40h%2Fd",
            {},
        )
    assert "hunter2" not in str(raised.value)


def test_open_backend_opens_a_plain_path_as_local(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "state"), {})
    assert isinstance(backend, LocalBackend)
    assert backend.description == str(tmp_path / "state")


def test_s3_needs_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys in botocore's usual files must not be picked up.
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = file-secret\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(BackendConfigError, match="HW_ACCESS_KEY and HW_SECRET_KEY"):
        open_backend("s3://bucket/x?endpoint=http://127.0.0.1:9", {"HOME": str(tmp_path)})
