"""State management: per-cluster state files, journals and locks.

::

    store = StateStore(Path(".reconciler/state"))
    with store.lock("prod", operation="apply", timeout_s=30):
        state = store.read("prod") or store.new("prod", cluster_id, project_id)
        state = store.put_addon(state, managed_addon)      # after each add-on
        Journal(store.state_dir, "prod").append({"action": "upgrade", ...})

Errors (``reconciler.statemgr.errors``)::

    StateError
    ├── CorruptStateError
    │   └── UnsupportedFormatError
    ├── StateConflictError
    ├── ClearSecretError
    └── LockError
"""

from __future__ import annotations

from reconciler.statemgr.errors import (
    ClearSecretError,
    CorruptStateError,
    LockError,
    StateConflictError,
    StateError,
    UnsupportedFormatError,
)
from reconciler.statemgr.journal import Journal
from reconciler.statemgr.lock import LockInfo
from reconciler.statemgr.redaction import assert_no_clear_secrets
from reconciler.statemgr.statefile import from_json, to_json
from reconciler.statemgr.store import DEFAULT_STATE_DIR, StateStore, with_addon, without_addon

__all__ = [
    "DEFAULT_STATE_DIR",
    "ClearSecretError",
    "CorruptStateError",
    "Journal",
    "LockError",
    "LockInfo",
    "StateConflictError",
    "StateError",
    "StateStore",
    "UnsupportedFormatError",
    "assert_no_clear_secrets",
    "from_json",
    "to_json",
    "with_addon",
    "without_addon",
]
