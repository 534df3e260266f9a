from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import filelock
import pytest
from statemgr_helpers import python

from reconciler.statemgr import LockError, LockInfo, StateStore

_HOLDER = """
import sys
from pathlib import Path
from reconciler.statemgr import StateStore

with StateStore(Path(sys.argv[1])).lock("prod", operation=sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of cluster ``prod`` until told to let go."""
    process = python(_HOLDER, str(tmp_path), "apply")
    assert process.stdout is not None
    assert process.stdout.readline() == "locked\n", process.stderr and process.stderr.read()
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def _let_go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.stdout.readline() == "released\n"


def test_a_second_process_fails_at_once_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    store = StateStore(tmp_path)
    started = time.monotonic()
    with pytest.raises(LockError) as caught, store.lock("prod", operation="apply"):
        pass
    assert time.monotonic() - started < 0.5
    message = str(caught.value)
    assert f"pid {holder.pid}" in message
    assert socket.gethostname() in message
    assert "apply" in message
    assert "force-unlock prod" in message

    _let_go(holder)
    with store.lock("prod") as mine:
        assert mine.pid == os.getpid()


def test_with_a_timeout_it_waits_for_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    releaser = threading.Timer(0.3, _let_go, args=(holder,))
    releaser.start()
    started = time.monotonic()
    try:
        with StateStore(tmp_path).lock("prod", operation="import", timeout_s=10) as mine:
            waited = time.monotonic() - started
            assert mine.operation == "import"
    finally:
        releaser.join()
    assert 0.25 <= waited < 5


def test_a_timeout_that_expires_still_names_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with (
        pytest.raises(LockError, match=rf"after waiting 0.3s by .*pid {holder.pid}"),
        StateStore(tmp_path).lock("prod", timeout_s=0.3),
    ):
        pass
    assert time.monotonic() - started >= 0.3


def test_a_sigkilled_holder_does_not_wedge_the_next_run(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    store = StateStore(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    stale = store.lock_info("prod")
    assert stale is not None and stale.pid == holder.pid and stale.holder_is_gone()

    with store.lock("prod", operation="apply") as mine:
        recorded = store.lock_info("prod")
        assert recorded is not None and recorded.id == mine.id and not recorded.holder_is_gone()
    assert store.lock_info("prod") is None


def test_force_unlock_breaks_a_hung_holders_lock(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    store = StateStore(tmp_path)
    broken = store.force_unlock("prod")
    assert broken is not None
    assert (broken.pid, broken.operation, broken.holder_is_gone()) == (holder.pid, "apply", False)
    with store.lock("prod") as mine:
        assert mine.pid == os.getpid()


def test_force_unlock_without_a_lock_returns_none(tmp_path: Path) -> None:
    assert StateStore(tmp_path).force_unlock("prod") is None


def test_stale_holder_info_on_a_held_lock_is_called_stale(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    paths = store.paths("prod")
    with subprocess.Popen(["true"]) as finished:
        finished.wait()
    dead_pid = finished.pid  # exited and reaped: a pid that no longer runs
    with store.lock("prod"):
        pass
    stale = dataclasses.replace(LockInfo.for_this_process("apply"), pid=dead_pid)
    paths.lock_info.write_text(json.dumps(dataclasses.asdict(stale)))
    other = filelock.FileLock(str(paths.lock))
    with other, pytest.raises(LockError, match="no longer running"), store.lock("prod"):
        pass


def test_locks_exclude_each_other_within_one_process_too(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.lock("prod"), pytest.raises(LockError), store.lock("prod"):
        pass
    with store.lock("prod"), store.lock("staging"):
        assert store.lock_info("staging") is not None


def test_a_holder_on_another_host_is_never_called_gone() -> None:
    info = dataclasses.replace(LockInfo.for_this_process("apply"), host="elsewhere", pid=1 << 30)
    assert not info.holder_is_gone()
    assert "elsewhere" in info.describe()


async def test_the_async_lock_waits_without_blocking_the_event_loop(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    store = StateStore(tmp_path)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.02)

    ticker = asyncio.create_task(tick())
    releaser = threading.Timer(0.3, _let_go, args=(holder,))
    releaser.start()
    try:
        async with store.lock_async("prod", operation="apply", timeout_s=10) as mine:
            assert store.lock_info("prod") == mine
    finally:
        releaser.join()
        ticker.cancel()
    assert ticks >= 5
    assert store.lock_info("prod") is None
    with pytest.raises(LockError):
        async with store.lock_async("prod"), store.lock_async("prod"):
            pass
