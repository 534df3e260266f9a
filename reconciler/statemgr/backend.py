"""The state backend interface: where states, locks and journals live.

::

    Locker                 lock / lock_info / force_unlock of a cluster
    └── StateBackend       + list, read, compare-and-swap write, journal, move, remove
        ├── LocalBackend       files in a directory (``statemgr.local``), the default
        ├── S3Backend          objects in an S3-compatible bucket (``statemgr.s3``)
        └── PostgresBackend    rows in PostgreSQL (``statemgr.postgres``)

A ``Locker`` is its own small interface so that state in one store can be
guarded by a lock in another (``s3`` state with a ``postgres`` lock, for
stores such as Huawei OBS that ignore conditional writes).

Every write is a compare-and-swap on the state's ``(lineage, serial)``: a
writer that did not start from what is stored gets ``StateConflictError``,
lock or no lock, so an update is never lost. The lock is what keeps a whole
apply (many writes) from interleaving with another.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.model.state import ManagedAddon, StateFile
from reconciler.statemgr.actor import actor
from reconciler.statemgr.errors import LockError, StateConflictError, StateError
from reconciler.statemgr.lock import LockInfo, lock_info_from_json, lock_info_to_json
from reconciler.statemgr.redaction import assert_no_clear_secrets
from reconciler.statemgr.statefile import new_state

__all__ = [
    "Locker",
    "StateBackend",
    "check_expected",
    "journal_record",
    "lock_info_from_json",
    "lock_info_to_json",
    "poll_lock",
    "refusal",
]

_POLL_PAUSE_S = 0.1


class Locker(Protocol):
    """A per-cluster lock that records its holder."""

    description: str
    """Where the lock lives, for messages (never holds credentials)."""

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        """Hold the cluster's lock for a ``with`` block; yields this holder's info.

        ``timeout_s`` 0 fails at once, > 0 waits up to that long, < 0 waits
        forever. A refusal raises ``LockError`` naming the holder.
        """
        ...

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        """The recorded holder, if any (it may be stale: see ``holder_is_gone``)."""
        ...

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        """Break the cluster's lock; returns the holder it recorded, if any."""
        ...

    def close(self) -> None: ...


class StateBackend(ABC):
    """States, journals and (through ``locker``) locks of every cluster of one store.

    Subclasses implement the primitives (``read``, ``replace``, ``remove``,
    the journal and ``list``); ``write`` and ``move`` are built on them.
    """

    description: str
    """The store, for messages: ``/path``, ``s3://bucket/prefix``, ``postgres://u@h/db``."""

    identity: str = "local"
    """Which store, across machines, for a saved plan to be bound to: ``local``,
    ``s3://BUCKET/PREFIX`` or ``postgres://HOST:PORT/DB``; never credentials.
    ``open_backend`` sets it from the URL."""

    @abstractmethod
    def list(self) -> list[str]:
        """Names of the clusters that have a state, sorted."""

    @abstractmethod
    def read(self, cluster_name: str) -> StateFile | None:
        """The cluster's state, or None; ``CorruptStateError`` if it can't be used."""

    @abstractmethod
    def replace(self, expected: StateFile | None, state: StateFile) -> None:
        """Store ``state`` exactly as given (its serial is not bumped), atomically.

        Only if what is stored is at ``expected``'s lineage and serial, or
        there is nothing stored when ``expected`` is None; otherwise
        ``StateConflictError``. ``write`` is the everyday call; this one is
        for copies (``move``, ``migrate``).
        """

    @abstractmethod
    def remove(self, cluster_name: str, *, with_journal: bool = False) -> None:
        """Forget the cluster's state (nothing if it has none).

        Its journal is kept unless ``with_journal``: the journal is the audit
        trail, and a forgotten cluster's history stays readable
        (``reconciler history``). Only ``move``, which has copied it, drops it.
        """

    @abstractmethod
    def append_journal(self, cluster_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append ``record`` (``time`` added unless given); returns what was stored.

        Never put values in a record: they may hold secrets.
        """

    @abstractmethod
    def read_journal(self, cluster_name: str) -> builtins.list[dict[str, Any]]:
        """Every journal record of the cluster, oldest first; ``[]`` if none."""

    @abstractmethod
    def list_journals(self) -> builtins.list[str]:
        """Names of the clusters that have a journal, sorted; a forgotten
        cluster (``state rm``) keeps its journal and so stays listed here."""

    @abstractmethod
    def read_blob(self, key: str) -> bytes | None:
        """The small document stored under ``key`` (``write_blob``), or None.

        For the tool's own bookkeeping beside the states (the notifier's last
        drift digest): never a state, never listed as a cluster."""

    @abstractmethod
    def write_blob(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (``check_blob_key``), replacing what was there."""

    @property
    @abstractmethod
    def locker(self) -> Locker:
        """The lock of this backend's clusters."""

    def write(self, state: StateFile) -> StateFile:
        """Write ``state`` with ``serial + 1``; returns what was written.

        ``StateConflictError`` if the stored state is not at ``state``'s
        lineage and serial (or exists while ``state.serial`` is 0):
        someone else wrote in between. ``ClearSecretError`` if a declared
        sensitive leaf is not hashed.
        """
        for addon in state.addons.values():
            assert_no_clear_secrets(
                addon.values, addon.sensitive_paths, where=f"{state.cluster_name}/{addon.name}"
            )
        written = dataclasses.replace(state, serial=state.serial + 1)
        self.replace(state if state.serial > 0 else None, written)
        return written

    def move(self, cluster_name: str, new_name: str) -> StateFile:
        """Rename a cluster's state and journal; returns the state under ``new_name``.

        Hold both clusters' locks. The copy is made before the original is
        removed, so a crash in between leaves two copies, never none.
        """
        state = self.read(cluster_name)
        if state is None:
            raise StateConflictError(
                f"{self.description}: cluster {cluster_name!r} has no state to move"
            )
        if self.read(new_name) is not None:
            raise StateConflictError(
                f"{self.description}: cluster {new_name!r} already has a state;"
                f" remove it first (reconciler state rm {new_name})"
            )
        moved = dataclasses.replace(state, cluster_name=new_name)
        self.replace(None, moved)
        # A journal left under ``new_name`` by a forgotten cluster stays first:
        # its ``state rm`` record closes that history before this one begins.
        for record in self.read_journal(cluster_name):
            self.append_journal(new_name, record)
        self.remove(cluster_name, with_journal=True)
        return moved

    def read_existing(self, cluster_name: str) -> StateFile:
        """The cluster's state; ``StateError`` naming the known clusters if it has none.

        For the commands that act on a state the user named (``state show``,
        ``state rm``): a missing one is their input error, not an empty state.
        """
        current = self.read(cluster_name)
        if current is None:
            known = ", ".join(self.list()) or "none"
            raise StateError(
                f"no state for cluster {cluster_name!r} in {self.description} (clusters: {known})"
            )
        return current

    def new(self, cluster_name: str, cluster_id: str, project_id: str = "") -> StateFile:
        """A fresh state (new lineage, serial 0, random salt); not written yet."""
        return new_state(cluster_name, cluster_id, project_id)

    def put_addon(self, state: StateFile, addon: ManagedAddon) -> StateFile:
        """Record ``addon`` as applied and write; returns the written state."""
        return self.write(
            dataclasses.replace(state, addons={**state.addons, addon.name: addon})
        )

    def remove_addon(self, state: StateFile, addon_name: str) -> StateFile:
        """Forget ``addon_name`` (the instance is not touched) and write."""
        if addon_name not in state.addons:
            raise KeyError(addon_name)
        kept = {name: a for name, a in state.addons.items() if name != addon_name}
        return self.write(dataclasses.replace(state, addons=kept))

    def lock(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        return self.locker.lock(cluster_name, operation, timeout_s)

    @asynccontextmanager
    async def lock_async(
        self, cluster_name: str, operation: str = "apply", timeout_s: float = 0.0
    ) -> AsyncIterator[LockInfo]:
        """``lock`` for async callers: waiting (and the lock's own I/O) happens in a
        thread, not on the event loop.

        Cancelled while waiting, the thread may still get the lock; it is then
        held until the process exits, so keep timeouts finite.
        """
        with ExitStack() as stack:
            held = self.lock(cluster_name, operation, timeout_s)
            yield await asyncio.to_thread(stack.enter_context, held)

    def lock_info(self, cluster_name: str) -> LockInfo | None:
        return self.locker.lock_info(cluster_name)

    def force_unlock(self, cluster_name: str) -> LockInfo | None:
        return self.locker.force_unlock(cluster_name)

    def close(self) -> None:
        """Release connections; the backend is unusable afterwards."""
        self.locker.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


BLOB_KEY = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_blob_key(key: str) -> str:
    """``key``, if it is a plain name (no path, no dot first): it names a file or object."""
    if not BLOB_KEY.fullmatch(key):
        raise ValueError(f"blob key {key!r}: use lowercase letters, digits, '.', '_' and '-'")
    return key


def journal_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with a ``time`` (RFC 3339 UTC, microseconds) and the ``actor``
    (``statemgr/actor.py``) unless it has a time: then it is either a copy
    (``state mv``, ``state migrate``), which keeps exactly what it says, or a
    new record whose writer stamped both (``apply.records.journal_record``)."""
    if "time" in record:
        return dict(record)
    return {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "actor": actor(),
            **record}


def poll_lock(
    try_once: Callable[[], bool], timeout_s: float, refuse: Callable[[], LockError]
) -> None:
    """Call ``try_once`` until it returns True, within ``timeout_s`` (see ``Locker.lock``)."""
    deadline = time.monotonic() + timeout_s
    while not try_once():
        if timeout_s == 0 or (timeout_s > 0 and time.monotonic() >= deadline):
            raise refuse()
        time.sleep(_POLL_PAUSE_S)


def refusal(
    where: str, cluster_name: str, holder: LockInfo | None, timeout_s: float, *, stale_hint: str
) -> LockError:
    """The ``LockError`` of a refused lock: who holds it, whether it looks stale, what to do."""
    waited = f" after waiting {timeout_s:g}s" if timeout_s > 0 else ""
    head = f"cluster {cluster_name!r} is locked in {where}{waited}"
    hint = (
        "Wait for it to finish, retry with --lock-timeout SECONDS, or, if you are sure"
        f" it is gone or hung: reconciler force-unlock {cluster_name}"
    )
    if holder is None:
        return LockError(f"{head} by a holder that has not recorded who it is. {hint}")
    if holder.holder_is_gone():
        return LockError(
            f"{head} by {holder.describe()}, which is no longer running: the lock is"
            f" stale ({stale_hint}). {hint}"
        )
    return LockError(f"{head} by {holder.describe()}. {hint}")


def check_expected(where: str, current: StateFile | None, expected: StateFile | None) -> None:
    """``StateConflictError`` unless ``current`` is at ``expected``'s lineage and serial."""
    if expected is None:
        if current is not None:
            raise StateConflictError(
                f"{where} already holds a state (lineage {current.lineage} serial"
                f" {current.serial}); refusing to overwrite it with a new one"
            )
        return
    if current is None:
        raise StateConflictError(
            f"{where} is gone, but the write starts from lineage {expected.lineage} serial"
            f" {expected.serial}; refusing to recreate it from an old copy"
        )
    if (current.lineage, current.serial) != (expected.lineage, expected.serial):
        raise StateConflictError(
            f"{where} is at lineage {current.lineage} serial {current.serial}, but this"
            f" write starts from lineage {expected.lineage} serial {expected.serial};"
            " another run changed it. Plan again."
        )
