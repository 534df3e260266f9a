"""Crash-safe file writes that mask: a reader sees the old content or the new, never half.

The one way the package writes a whole file (plan files, state files and
their backups, lock info, drift ``--output``, the emulator's state file).
Masking here never changes what apply sends: a registered literal can only
reach a file if it escaped the structural hashing, i.e. it would be a leak.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconciler.masking.redactor import mask

__all__ = ["fsync_dir", "write_atomic"]


def write_atomic(
    path: Path, data: str | bytes, *, mode: int | None = None, masked: bool = True
) -> None:
    """Write ``data`` (masked) to a hidden temp file beside ``path``, fsync, rename,
    fsync the directory.

    The temp file lives in the same directory so the rename stays on one
    filesystem (atomic). A crash before the rename leaves only a hidden
    ``.<name>.tmp-*`` file, which nothing reads. ``mode`` defaults to
    mkstemp's 0600 (state is private); shared files (plans, reports) pass 0644.
    Bytes that are not UTF-8 survive unchanged (``surrogateescape``).
    ``masked=False`` is only for the emulator's store, which plays the cloud.
    """
    text = data if isinstance(data, str) else data.decode("utf-8", "surrogateescape")
    payload = (mask(text) if masked else text).encode("utf-8", "surrogateescape")
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=directory)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
