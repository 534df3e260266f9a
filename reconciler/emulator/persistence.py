"""The emulator's ``--state-file``: instances and tasks as JSON, written atomically.

Templates and clusters come from the scenario and are not stored. Timestamps
are ``clock()`` seconds, so with the default wall clock a restarted emulator
continues operations where they were (time is lazy, see ``store``).

The file holds the add-on values clients sent, secrets included, so it is
owner-only (0600, from ``mkstemp``) and directories it creates are 0700.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from reconciler.emulator.store import AddonTask, ClusterTask, Instance, Operation, Risk, Store
from reconciler.masking.files import write_atomic

__all__ = ["FORMAT_VERSION", "check_writable", "load_into", "save"]

FORMAT_VERSION = 1


def _dump(store: Store) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "instances": [asdict(i) for i in store.instances.values()],
        "addon_tasks": [asdict(t) for tasks in store.addon_tasks.values() for t in tasks],
        "cluster_tasks": [asdict(t) for tasks in store.cluster_tasks.values() for t in tasks],
    }


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents owner-only; existing ones are left alone.

    ``Path.mkdir(parents=True, mode=…)`` gives the mode to the last directory only."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)


def check_writable(path: Path) -> None:
    """Raise ``ValueError`` naming ``path`` and the OS reason unless the state
    file can be written there (its directories are created, owner-only). A
    server checks at start: a failed save mid-request would be a 500 and a
    traceback in the server log, long after the typo."""
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; give a file path for the emulator state")
    try:
        _make_private_dirs(path.parent)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(
            f"{path}: cannot write the emulator state file there: {exc.strerror or exc}"
        ) from None


def save(store: Store, path: Path) -> None:
    """Atomic, owner-only, and never masked: this file is the emulated cloud, which
    legitimately holds the secret values the tool sent (masking them would change
    the "live" values the next plan reads)."""
    _make_private_dirs(path.parent)
    write_atomic(path, json.dumps(_dump(store), separators=(",", ":")), masked=False)


def load_into(store: Store, path: Path) -> bool:
    """Replace the store's instances and tasks with the file's; False if no file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable emulator state file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        found = data.get("format_version") if isinstance(data, dict) else None
        raise ValueError(f"{path}: unsupported emulator state format "
                         f"{found!r} (expected {FORMAT_VERSION})")
    try:
        _load(store, data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: malformed emulator state file: {type(exc).__name__} {exc}"
                         ) from None
    return True


def _load(store: Store, data: dict[str, Any]) -> None:
    store.instances.clear()
    store.by_cluster = {c: {} for c in store.clusters}
    for raw in data["instances"]:
        op = raw.pop("op")
        inst = Instance(**raw, op=Operation(**op) if op else None)
        if inst.template in store.templates:
            store.add(inst)
    store.addon_tasks, store.cluster_tasks = {}, {}
    for raw in data["addon_tasks"]:
        risks = [Risk(**r) for r in raw.pop("risks")]
        task = AddonTask(**raw, risks=risks)
        store.addon_tasks.setdefault(task.cluster_id, []).append(task)
    for raw in data["cluster_tasks"]:
        ctask = ClusterTask(**raw)
        store.cluster_tasks.setdefault(ctask.cluster_id, []).append(ctask)
