"""Crash-safe file writes that mask: a reader sees the old content or the new, never half.

The one way the package writes a whole file (plan files, state files and
their backups, lock info, drift ``--output``, the emulator's state file), and
with ``open_append`` the one way it appends (``--log-file``, journals).
Masking here never changes what apply sends: a registered literal can only
reach a file if it escaped the structural hashing, i.e. it would be a leak.

Only regular files are written. A path may come from a flag a CI job builds
from pull-request text, and the process often runs as root: a rename over
``/dev/null`` would replace the device node, over a symlink the link (or,
followed, whatever it points at), over a FIFO a pipe another process reads.
So whatever already sits at the path must be a regular file, else
``NotARegularFile`` is raised and nothing is touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from reconciler.masking.redactor import mask

__all__ = ["NotARegularFile", "fsync_dir", "kind_of", "open_append", "read_regular",
           "refuse_unless_regular", "write_atomic"]


class NotARegularFile(OSError):
    """Something other than a regular file sits at an output path.

    An ``OSError`` so every caller that names "cannot write there: <reason>"
    reports it unchanged; ``strerror`` says what is there."""

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(
            errno.EEXIST,
            f"it is {kind_of(mode)}, not a regular file; only regular files are read or "
            "written here (remove it or choose another path)",
            str(path),
        )


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (from ``lstat``: links are named)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def refuse_unless_regular(path: Path) -> None:
    """Raise ``NotARegularFile`` unless ``path`` is absent or a regular file
    (the path itself: a symlink is refused, not followed)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(path, info.st_mode)


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
    Raises ``NotARegularFile`` (before writing anything) when something other
    than a regular file is at ``path``.
    """
    text = data if isinstance(data, str) else data.decode("utf-8", "surrogateescape")
    payload = (mask(text) if masked else text).encode("utf-8", "surrogateescape")
    refuse_unless_regular(path)
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
        # Again just before the rename: the path may have been swapped meanwhile.
        refuse_unless_regular(path)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(directory)


def open_append(path: Path, mode: int = 0o600, *, readable: bool = False) -> int:
    """Open the regular file ``path`` for appending (created with ``mode``); returns the fd.

    ``O_NOFOLLOW`` refuses a symlink and ``O_NONBLOCK`` keeps a FIFO with no
    reader from blocking the open; the opened file is checked again with
    ``fstat``. Raises ``NotARegularFile`` (or another ``OSError``)."""
    refuse_unless_regular(path)
    flags = (os.O_RDWR if readable else os.O_WRONLY) | os.O_APPEND | os.O_CREAT
    flags |= os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENXIO):  # a symlink, a FIFO nobody reads
            refuse_unless_regular(path)
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFile(path, info.st_mode)
    os.set_blocking(fd, True)
    return fd


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file ``path`` (a file the package wrote: state,
    backups, journals). ``FileNotFoundError`` when absent, ``NotARegularFile``
    when a FIFO (whose read would block for ever), device, symlink or
    directory is there."""
    refuse_unless_regular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(path, info.st_mode)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
