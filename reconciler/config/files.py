"""Reading files named on the command line, which may be anything a path can name.

A FIFO would block the read forever, a device could stream without end, and a
huge file would be parsed into gigabytes of nodes; so the type and size are
checked with ``stat`` before the file is opened, the file is opened without
blocking and checked again (it may have been swapped in between), and no more
than ``MAX_FILE_BYTES`` are read.
"""

from __future__ import annotations

import os
import stat

from reconciler.masking.files import kind_of

__all__ = ["MAX_FILE_BYTES", "UnreadableFile", "kind_of", "read_limited"]

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Desired-state and var files are hand-written or generated YAML: 5 MiB is ample."""


class UnreadableFile(Exception):
    """The file can't be used; the message says why (without the path)."""

    def __init__(self, message: str, *, os_error: bool = False) -> None:
        super().__init__(message)
        self.os_error = os_error
        """True when the message is the system's reason (``Permission denied``)."""


def _check(info: os.stat_result, expected: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(f"is {kind_of(info.st_mode)}, expected {expected}")
    if info.st_size > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"is {info.st_size:,} bytes; files are limited to {MAX_FILE_BYTES // 2**20} MiB"
        )


def read_limited(path: str, expected: str) -> str:
    """The UTF-8 text of the regular file ``path``; ``expected`` names what it should
    be (``a desired-state YAML file``). Raises ``UnreadableFile``."""
    try:
        _check(os.stat(path), expected)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise UnreadableFile(err.strerror or str(err), os_error=True) from None
    try:
        _check(os.fstat(fd), expected)  # the path may now name something else
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise UnreadableFile(err.strerror or str(err), os_error=True) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"is larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableFile(f"is not UTF-8 text (byte {err.start + 1})") from None
