"""Per-cluster locks: an OS lock that dies with its process, plus who holds it.

The lock itself is ``flock`` on ``<cluster>.lock`` (through ``filelock``): the
kernel drops it when the holder exits, however it exits, so a crashed run
never wedges the next one. Beside it, ``<cluster>.lock.info`` records the
holder (who, host, pid, operation, time, version) so a refused run can say
who is in the way. The info file is only informational: after a crash it
lingers until the next holder overwrites it, and it can be stale, which
``LockInfo.holder_is_gone`` detects for holders on this host.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import filelock

from reconciler import __version__
from reconciler.masking.files import (
    NotARegularFile,
    fsync_dir,
    read_regular,
    refuse_unless_regular,
    write_atomic,
)
from reconciler.statemgr.actor import user_name
from reconciler.statemgr.errors import BackendError, LockError
from reconciler.statemgr.paths import ClusterPaths

__all__ = [
    "LockInfo",
    "cluster_lock",
    "lock_info_from_json",
    "lock_info_to_json",
    "lock_is_held",
    "read_lock_info",
    "remove_lock",
]

_SETTLE_TRIES = 10
_SETTLE_PAUSE_S = 0.025


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or last held) a cluster's lock."""

    id: str
    """Random per acquisition, so a holder only removes its own info file."""
    who: str
    host: str
    pid: int
    operation: str
    """What the holder is doing: ``apply``, ``import``, ``state rm``…"""
    time: str
    """When it was acquired, RFC 3339 UTC."""
    version: str
    """Reconciler version of the holder."""

    @classmethod
    def for_this_process(cls, operation: str) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            who=user_name(),
            host=socket.gethostname(),
            pid=os.getpid(),
            operation=operation,
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            version=__version__,
        )

    def describe(self) -> str:
        return (
            f"{self.who}@{self.host} (pid {self.pid}, {self.operation}, since {self.time},"
            f" reconciler {self.version})"
        )

    def holder_is_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer exists.

        A holder on another host can't be checked from here: False.
        """
        return self.host == socket.gethostname() and not _process_alive(self.pid)


def read_lock_info(path: Path) -> LockInfo | None:
    """The recorded holder, or None if there is none or it can't be read.

    The file is informational, so a damaged one is treated as absent.
    """
    try:
        return lock_info_from_json(read_regular(path))
    except OSError:
        return None


def lock_info_to_json(info: LockInfo) -> str:
    return json.dumps(asdict(info), indent=2) + "\n"


def lock_info_from_json(data: str | bytes) -> LockInfo | None:
    """The holder recorded in ``data``, or None if it can't be read (it is informational)."""
    try:
        raw = json.loads(data)
        return LockInfo(
            id=str(raw["id"]),
            who=str(raw["who"]),
            host=str(raw["host"]),
            pid=int(raw["pid"]),
            operation=str(raw["operation"]),
            time=str(raw["time"]),
            version=str(raw["version"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


@contextmanager
def cluster_lock(paths: ClusterPaths, operation: str, timeout_s: float) -> Iterator[LockInfo]:
    """Hold the cluster's lock for the ``with`` block; yields this holder's info.

    ``timeout_s`` 0 fails at once, > 0 waits up to that long, < 0 waits
    forever. A refusal raises ``LockError`` naming the holder.
    """
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    # Before anything runs: every file of the cluster that apply may write must be a
    # regular file (filelock itself opens with O_TRUNC, following links).
    for path in (paths.lock, paths.lock_info, paths.state, paths.backup, paths.journal):
        try:
            refuse_unless_regular(path)
        except NotARegularFile as err:
            raise BackendError(f"{path}: {err.strerror}") from None
    # thread_local=False: an async apply may release from another thread.
    os_lock = filelock.FileLock(str(paths.lock), thread_local=False)
    try:
        os_lock.acquire(timeout=timeout_s)
    except filelock.Timeout:
        raise LockError(_refusal(paths, timeout_s)) from None
    try:
        info = LockInfo.for_this_process(operation)
        write_atomic(paths.lock_info, lock_info_to_json(info))
        try:
            yield info
        finally:
            if (current := read_lock_info(paths.lock_info)) is not None and current.id == info.id:
                with contextlib.suppress(FileNotFoundError):
                    paths.lock_info.unlink()
    finally:
        os_lock.release()


def lock_is_held(paths: ClusterPaths) -> bool:
    """Whether a process holds the cluster's lock now. The lock file outlives
    every run (unlinking it could split the lock in two), so its existence
    says nothing: probe the flock itself, and release it at once."""
    if not paths.lock.exists():
        return False
    probe = filelock.FileLock(str(paths.lock), thread_local=False)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def remove_lock(paths: ClusterPaths) -> LockInfo | None:
    """Break the lock: remove the lock and info files; returns the recorded holder.

    A process still holding the old lock keeps its flock on the removed file,
    so the next run locks a new file: only do this when that holder is gone
    or hung.
    """
    info = read_lock_info(paths.lock_info)
    removed = False
    for path in (paths.lock_info, paths.lock):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed = True
    if removed:
        fsync_dir(paths.state_dir)
    return info


def _refusal(paths: ClusterPaths, timeout_s: float) -> str:
    waited = f" after waiting {timeout_s:g}s" if timeout_s > 0 else ""
    head = f"cluster {paths.cluster_name!r} is locked{waited}"
    hint = (
        f"Wait for it to finish, retry with --lock-timeout SECONDS, or, if you are sure"
        f" it is gone or hung: reconciler force-unlock {paths.cluster_name}"
    )
    info = _settled_holder(paths)
    if info is None:
        return f"{head} by another process that has not recorded who it is yet. {hint}"
    if info.holder_is_gone():
        return (
            f"{head}; the recorded holder {info.describe()} is no longer running, so the"
            f" lock is held by another process (perhaps one it started). {hint}"
        )
    return f"{head} by {info.describe()}. {hint}"


def _settled_holder(paths: ClusterPaths) -> LockInfo | None:
    # A new holder writes its info just after it gets the lock; until then the
    # file is missing or a crashed predecessor's. Give it a moment.
    info = read_lock_info(paths.lock_info)
    for _ in range(_SETTLE_TRIES):
        if info is not None and not info.holder_is_gone():
            break
        time.sleep(_SETTLE_PAUSE_S)
        info = read_lock_info(paths.lock_info)
    return info


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed but unreaped child still answers kill(0): a zombie is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
