"""State backend URLs with secrets in them: refused without echoing the secret,
and the backends' libraries (botocore, urllib3, psycopg) kept out of ``-vv``.

A key or password has no place in a state URL (it comes from the environment),
but an operator pastes one there all the same: a presigned-looking S3 URL, a
libpq URL with ``?password=``. The error must say what is wrong and show the
URL without the secret, on stderr and in ``--log-file``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.masking.logs import THIRD_PARTY_LOGGERS, start_verbose_logging
from tests.security.test_leaks_everywhere import _cwd
from tests.security.test_secret_logs import _desired

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

__all__: list[str] = []

S3_SECRET_KEY = "s3-SECRET-KEY-MARK-0e9a41"
S3_ENV = {"AWS_ACCESS_KEY_ID": "AKIASECRETLOGS01", "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}

MARK = "S3SECRETLEAK8-b7e2"
S3 = "s3://state-bucket/reconciler?endpoint=http://127.0.0.1:9&region=r1"
URLS = {
    "s3 secret_key": f"{S3}&secret_key={MARK}",
    "s3 secret_access_key": f"{S3}&secret_access_key={MARK}",
    "s3 token": f"{S3}&token={MARK}",
    "s3 X-Amz-Security-Token": f"{S3}&X-Amz-Security-Token={MARK}",
    "s3 user-info": f"s3://AKIAEXAMPLE:{MARK}@state-bucket/reconciler?region=r1",
    "s3 endpoint user-info": f"s3://state-bucket/p?endpoint=ftp://u:{MARK}@h&region=r1",
    "s3 endpoint query": f"s3://state-bucket/p?endpoint=ftp://h/?sig%3D{MARK}&region=r1",
    "s3 lock_url password": f"{S3}&lock=postgres&lock_url=postgres://u:{MARK}@db/state",
    "s3 lock_url query": f"{S3}&lock=postgres&lock_url=postgres://u@db/state%3Fpassword%3D{MARK}",
    "postgres user-info": f"postgres://reconciler:{MARK}@db.example:5432/state",
    "postgres password": f"postgres://reconciler@db.example:5432/state?password={MARK}",
    "postgres sslpassword": f"postgres://reconciler@db.example/state?sslmode=require"
                            f"&sslpassword={MARK}",
    "postgresql token": f"postgresql://reconciler@db.example/state?token={MARK}",
}


@pytest.mark.parametrize("url", URLS.values(), ids=list(URLS))
def test_a_secret_in_a_state_url_is_never_echoed(url: str, tmp_path: Path) -> None:
    with _cwd(tmp_path):
        result = CliRunner(env={"NO_COLOR": "1"}).invoke(
            cli, ["state", "list", "--state", url], catch_exceptions=False)
        # The same URL through plan -vv --log-file: the log sees the error too.
        Path("desired.yaml").write_text(_desired(with_secret=False), encoding="utf-8")
        planned = CliRunner(env={"NO_COLOR": "1", "HW_ACCESS_KEY": "ak-1234",
                                 "HW_SECRET_KEY": "sk-1234"}).invoke(
            cli, ["plan", "desired.yaml", "-vv", "--log-file", "run.log", "--state", url],
            catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "state backend" in result.stderr  # refused, naming the problem
    assert planned.exit_code == 1, planned.output
    for text in (result.stdout, result.stderr, planned.stdout, planned.stderr):
        assert MARK not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert MARK.encode() not in path.read_bytes(), path


def test_the_error_still_shows_the_harmless_parts() -> None:
    result = CliRunner().invoke(cli, ["state", "list", "--state", URLS["s3 secret_key"]])
    assert result.exit_code == 1
    assert "unknown parameter 'secret_key'" in result.stderr
    assert "secret_key=***" in result.stderr and "region=r1" in result.stderr


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _bucket(endpoint: str) -> str:
    import botocore.session

    bucket = f"test-{uuid.uuid4().hex[:16]}"
    botocore.session.Session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"], aws_secret_access_key=S3_SECRET_KEY,
    ).create_bucket(Bucket=bucket)
    return bucket


def test_s3_backend_libraries_stay_out_of_vv(moto_endpoint: str, tmp_path: Path) -> None:
    """botocore logs signed headers and whole state objects at DEBUG; with -vv
    and --log-file none of it, nor the S3 secret key, may come through."""
    bucket = _bucket(moto_endpoint)
    url = f"s3://{bucket}/states?endpoint={moto_endpoint}&region=us-east-1&addressing=path"
    env = {**S3_ENV, "NO_COLOR": "1", "HW_ACCESS_KEY": "ak-1234", "HW_SECRET_KEY": "sk-1234"}
    with _cwd(tmp_path):
        Path("desired.yaml").write_text(_desired(with_secret=False), encoding="utf-8")
        result = CliRunner(env=env).invoke(
            cli, ["plan", "desired.yaml", "-vv", "--log-file", "run.log", "--state", url],
            catch_exceptions=False)
    log = (tmp_path / "run.log").read_text()
    assert result.exit_code == 0, result.stderr
    assert "reconciler.cloud" in log  # -vv was on: our own request log is there
    for text in (result.stderr, log):
        assert S3_SECRET_KEY not in text
        for library in THIRD_PARTY_LOGGERS:
            assert f"DEBUG {library}" not in text and f'"logger": "{library}' not in text


def test_library_levels_are_restored_after_the_run() -> None:
    before = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    undo = start_verbose_logging(2)
    assert all(logging.getLogger(n).level == logging.WARNING for n in THIRD_PARTY_LOGGERS)
    undo()
    assert {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS} == before
