"""The ``local`` backend: today's files in a directory, behind ``StateBackend``.

It wraps ``StateStore`` (state files and their ``.backup``), ``Journal`` and the
flock-based cluster lock unchanged. One thing is added: each write's
compare-and-swap (read the file, check lineage and serial, rename over it) runs
under a short flock on a hidden ``.<name>.json.write-lock`` file, so two
writers that both skipped the cluster lock still can't both win.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import filelock

from reconciler.masking.files import fsync_dir, read_regular, write_atomic
from reconciler.model.state import StateFile
from reconciler.statemgr.backend import Locker, StateBackend, check_blob_key, check_expected
from reconciler.statemgr.errors import StateError
from reconciler.statemgr.journal import Journal
from reconciler.statemgr.lock import LockInfo
from reconciler.statemgr.paths import ClusterPaths, decode_cluster_name
from reconciler.statemgr.statefile import from_json, to_json
from reconciler.statemgr.store import StateStore

__all__ = ["LocalBackend", "LocalLocker"]


class LocalLocker:
    """The flock + ``.lock.info`` lock of ``reconciler.statemgr.lock``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.description = str(store.state_dir)

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        return self.store.lock(cluster_name, operation, timeout_s)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        return self.store.lock_info(cluster_name)

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        return self.store.force_unlock(cluster_name)

    def close(self) -> None:
        """Nothing to release: each lock closes its own file."""


class LocalBackend(StateBackend):
    """State files, journals and locks under ``state_dir`` (see ``statemgr.paths``)."""

    def __init__(self, state_dir: Path) -> None:
        self.store = StateStore(state_dir)
        self.description = str(self.store.state_dir)
        self._locker = LocalLocker(self.store)

    @property
    def state_dir(self) -> Path:
        return self.store.state_dir

    def paths(self, cluster_name: str) -> ClusterPaths:
        """Where the cluster's files are (for tests and the local-only commands)."""
        return self.store.paths(cluster_name)

    @property
    def locker(self) -> Locker:
        return self._locker

    def list(self) -> list[str]:
        return self.store.list()

    def read(self, cluster_name: str) -> StateFile | None:
        return self.store.read(cluster_name)

    def write(self, state: StateFile) -> StateFile:
        # StateStore.write keeps its messages and .backup; the flock makes its
        # check-then-rename atomic against other writers.
        with self._write_lock(state.cluster_name):
            return self.store.write(state)

    def replace(self, expected: StateFile | None, state: StateFile) -> None:
        paths = self.store.paths(state.cluster_name)
        with self._write_lock(state.cluster_name):
            current = self.store.read(state.cluster_name)
            check_expected(str(paths.state), current, expected)
            if current is not None:
                write_atomic(paths.backup, read_regular(paths.state))
            write_atomic(paths.state, to_json(state).encode())

    def remove(self, cluster_name: str, *, with_journal: bool = False) -> None:
        paths = self.store.paths(cluster_name)
        doomed = (paths.state, paths.backup) + ((paths.journal,) if with_journal else ())
        with self._write_lock(cluster_name):
            for path in doomed:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            fsync_dir(paths.state_dir)

    def list_journals(self) -> builtins.list[str]:
        if not self.state_dir.is_dir():
            return []
        suffix = ".journal.jsonl"
        return sorted(
            decode_cluster_name(path.name[: -len(suffix)])
            for path in self.state_dir.glob("*" + suffix)
            if not path.name.startswith(".") and path.is_file()
        )

    def move(self, cluster_name: str, new_name: str) -> StateFile:
        """``StateBackend.move``, and the ``.backup`` goes along (renamed
        inside too, so it can still be restored under the new name); hold
        both clusters' locks. A crash before the backup is written loses
        only the backup, never the state."""
        backup = self._renamed_backup(cluster_name, new_name)
        moved = super().move(cluster_name, new_name)
        if backup is not None:
            write_atomic(self.store.paths(new_name).backup, backup)
        return moved

    def _renamed_backup(self, cluster_name: str, new_name: str) -> bytes | None:
        paths = self.store.paths(cluster_name)
        try:
            data = read_regular(paths.backup)
        except FileNotFoundError:
            return None
        try:
            old = from_json(data, source=paths.backup)
        except StateError:
            return data  # a damaged backup moves as it is: it is evidence, not state
        return to_json(dataclasses.replace(old, cluster_name=new_name)).encode()

    def append_journal(self, cluster_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        return Journal(self.store.state_dir, cluster_name).append(record)

    def read_journal(self, cluster_name: str) -> builtins.list[dict[str, Any]]:
        return Journal(self.store.state_dir, cluster_name).read()

    def read_blob(self, key: str) -> bytes | None:
        try:
            return self._blob_path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write_blob(self, key: str, data: bytes) -> None:
        path = self._blob_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def _blob_path(self, key: str) -> Path:
        # A hidden directory: ``list`` only takes ``*.json`` files beside it for states.
        return self.store.state_dir / ".blobs" / check_blob_key(key)

    @contextmanager
    def _write_lock(self, cluster_name: str) -> Iterator[None]:
        paths = self.store.paths(cluster_name)
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        # Hidden, so ``list`` never takes it for a state; never removed, since
        # unlinking a flock file others may hold would split the lock in two.
        lock_path = paths.state_dir / f".{paths.state.name}.write-lock"
        with filelock.FileLock(str(lock_path), thread_local=False):
            yield
