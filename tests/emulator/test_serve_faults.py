"""``reconciler emulator serve``'s fault flags, on a real socket: each one does
to a client what the Python API's ``Faults`` and failure rules do."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cloud import CloudSession, Credentials, RetryPolicy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "scenarios" / "failures.yaml"
PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"
TOKEN = f"demo-token-{PROJECT}"
STAGING = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
CLUSTERS = f"/api/v3/projects/{PROJECT}/clusters"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(*flags: str) -> Iterator[str]:
    """``reconciler emulator serve FLAGS`` in a child process; its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", str(port), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(5)]
        assert banner[0].startswith("CCE emulator on"), "".join(banner)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:  # the banner comes before uvicorn listens
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("emulator serve did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_throttle_rate_answers_429_with_the_given_retry_after() -> None:
    with serving("--throttle-rate", "1", "--retry-after", "7") as url:
        answer = httpx.get(url + CLUSTERS, headers={"X-Auth-Token": TOKEN})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"


def test_drop_rate_cuts_the_connection() -> None:
    with serving("--drop-rate", "1") as url, pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url + CLUSTERS, headers={"X-Auth-Token": TOKEN})


def test_latency_delays_every_answer() -> None:
    with serving("--latency-ms", "300") as url:
        started = time.monotonic()
        answer = httpx.get(url + CLUSTERS, headers={"X-Auth-Token": TOKEN})
        assert answer.status_code == 200
        assert time.monotonic() - started >= 0.3


def test_error_rate_answers_500() -> None:
    with serving("--error-rate", "1") as url:
        answer = httpx.get(url + CLUSTERS, headers={"X-Auth-Token": TOKEN})
    assert answer.status_code == 500
    assert answer.json()["errorCode"] == "CCE.03500001"


def test_rules_from_a_file_fail_an_install() -> None:
    async def install_npd(url: str) -> tuple[str, str]:
        credentials = Credentials(access_key="DEMOAKEMULATOR000001",
                                  secret_key="DEMOSKEMULATOR00000000000000000000000001")
        async with CloudSession(credentials=credentials,
                                retry=RetryPolicy(max_attempts=1)) as session:
            client = session.client(url, "ap-southeast-1", PROJECT)
            instance = await client.install(STAGING, "npd", "1.19.9", {})
            for _ in range(200):
                instance = await client.get_instance(instance.uid, STAGING)
                if instance.status.status not in ("installing",):
                    break
                await asyncio.sleep(0.02)
            return instance.status.status, instance.status.reason or ""

    with serving("--rules", str(RULES), "--time-scale", "1000") as url:
        status, reason = asyncio.run(install_npd(url))
    assert (status, reason) == ("installFailed", "InstallFailed")


@pytest.mark.parametrize(("flags", "says"), [
    (["--drop-rate", "2"], "--drop-rate"),
    (["--retry-after", "-1"], "--retry-after"),
    (["--latency-ms", "-5"], "--latency-ms"),
    (["--rules", "nope.yaml"], "nope.yaml"),
])
def test_bad_fault_flags_exit_1_before_serving(
    flags: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0", *flags])
    assert result.exit_code == 1, result.output
    assert says in result.output and "CCE emulator on" not in result.output


def test_a_malformed_rules_file_names_the_file_and_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("failure_rules:\n  - template: npd\n    operation: explode\n")
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0",
                                      "--rules", str(rules)])
    assert result.exit_code == 1, result.output
    assert str(rules) in result.output and "failure_rules[0].operation" in result.output
