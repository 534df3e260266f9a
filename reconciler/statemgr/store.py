"""``StateStore``: the state files of every cluster in one directory.

Reads refuse anything they can't fully parse (never replacing it); writes are
atomic, keep a ``.backup`` of the previous file and refuse to overwrite a state
they did not start from. Callers hold ``store.lock(cluster)`` around a
read-modify-write sequence; the store does not lock by itself because one
apply performs many writes under one lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path

from reconciler.masking.files import read_regular, write_atomic
from reconciler.model.state import ManagedAddon, StateFile
from reconciler.statemgr.errors import CorruptStateError, StateConflictError
from reconciler.statemgr.lock import LockInfo, cluster_lock, read_lock_info, remove_lock
from reconciler.statemgr.paths import STATE_SUFFIX, ClusterPaths, decode_cluster_name
from reconciler.statemgr.redaction import assert_no_clear_secrets
from reconciler.statemgr.statefile import from_json, new_state, to_json

__all__ = ["DEFAULT_STATE_DIR", "StateStore", "with_addon", "without_addon"]

DEFAULT_STATE_DIR = Path(".reconciler/state")


class StateStore:
    """State files, journals and locks under ``state_dir`` (created on first write)."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.state_dir = Path(state_dir)

    def paths(self, cluster_name: str) -> ClusterPaths:
        return ClusterPaths(self.state_dir, cluster_name)

    def list(self) -> list[str]:
        """Names of the clusters that have a state file, sorted."""
        if not self.state_dir.is_dir():
            return []
        return sorted(
            decode_cluster_name(path.name[: -len(STATE_SUFFIX)])
            for path in self.state_dir.glob("*" + STATE_SUFFIX)
            if not path.name.startswith(".") and path.is_file()
        )

    def read(self, cluster_name: str) -> StateFile | None:
        """The cluster's state, or None if it has none.

        Raises ``CorruptStateError`` (or ``UnsupportedFormatError``) when the
        file exists but can't be used.
        """
        paths = self.paths(cluster_name)
        try:
            data = read_regular(paths.state)
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CorruptStateError(paths.state, reason, backup=paths.backup) from exc
        return self._parse(paths, data)

    def new(self, cluster_name: str, cluster_id: str, project_id: str = "") -> StateFile:
        """A fresh state (new lineage, serial 0, random salt); not written yet."""
        return new_state(cluster_name, cluster_id, project_id)

    def write(self, state: StateFile) -> StateFile:
        """Write ``state`` with ``serial + 1``; returns what was written.

        Continue from the returned state: the next write must start from the
        serial on disk, or it raises ``StateConflictError`` (someone else
        wrote in between, or the file vanished). The previous file is kept as
        ``<name>.json.backup``. Raises ``ClearSecretError`` if a declared
        sensitive leaf is not hashed.
        """
        for addon in state.addons.values():
            assert_no_clear_secrets(
                addon.values, addon.sensitive_paths, where=f"{state.cluster_name}/{addon.name}"
            )
        paths = self.paths(state.cluster_name)
        previous = self._previous_bytes(paths, state)
        written = dataclasses.replace(state, serial=state.serial + 1)
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        if previous is not None:
            write_atomic(paths.backup, previous)
        write_atomic(paths.state, to_json(written).encode())
        return written

    def put_addon(self, state: StateFile, addon: ManagedAddon) -> StateFile:
        """Record ``addon`` as applied and write; returns the written state."""
        return self.write(with_addon(state, addon))

    def remove_addon(self, state: StateFile, addon_name: str) -> StateFile:
        """Forget ``addon_name`` (the instance is not touched) and write."""
        return self.write(without_addon(state, addon_name))

    @contextmanager
    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> Iterator[LockInfo]:
        """Hold the cluster's lock (see ``reconciler.statemgr.lock``)."""
        with cluster_lock(self.paths(cluster_name), operation, timeout_s) as info:
            yield info

    @asynccontextmanager
    async def lock_async(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AsyncIterator[LockInfo]:
        """``lock`` for async callers: waiting happens in a thread, not on the event loop.

        Cancelled while waiting, the thread may still get the lock; it is then
        held until the process exits (the OS drops it), so keep timeouts finite.
        """
        with ExitStack() as stack:
            held = self.lock(cluster_name, operation, timeout_s)
            yield await asyncio.to_thread(stack.enter_context, held)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        """The recorded lock holder, if any (informational; may be stale)."""
        return read_lock_info(self.paths(cluster_name).lock_info)

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        """Break the cluster's lock; returns the holder it recorded, if any."""
        return remove_lock(self.paths(cluster_name))

    def _parse(self, paths: ClusterPaths, data: bytes) -> StateFile:
        state = from_json(data, source=paths.state, backup=paths.backup)
        if state.cluster_name != paths.cluster_name:
            raise CorruptStateError(
                paths.state,
                f"it holds cluster {state.cluster_name!r}, not {paths.cluster_name!r}",
                backup=paths.backup,
            )
        return state

    def _previous_bytes(self, paths: ClusterPaths, state: StateFile) -> bytes | None:
        try:
            data = read_regular(paths.state)
        except FileNotFoundError:
            if state.serial != 0:
                raise StateConflictError(
                    f"state file {paths.state} is gone, but the state being written has"
                    f" serial {state.serial}; refusing to recreate it from an old copy"
                ) from None
            return None
        on_disk = self._parse(paths, data)
        if on_disk.lineage != state.lineage or on_disk.serial != state.serial:
            raise StateConflictError(
                f"state file {paths.state} is at lineage {on_disk.lineage} serial"
                f" {on_disk.serial}, but this write starts from lineage {state.lineage}"
                f" serial {state.serial}; another run changed it. Plan again."
            )
        return data


def with_addon(state: StateFile, addon: ManagedAddon) -> StateFile:
    """``state`` with ``addon`` added or replaced (pure)."""
    return dataclasses.replace(state, addons={**state.addons, addon.name: addon})


def without_addon(state: StateFile, addon_name: str) -> StateFile:
    """``state`` without ``addon_name`` (pure); ``KeyError`` if it is not managed."""
    if addon_name not in state.addons:
        raise KeyError(addon_name)
    return dataclasses.replace(
        state, addons={name: a for name, a in state.addons.items() if name != addon_name}
    )
