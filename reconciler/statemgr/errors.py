"""Errors raised by the state layer.

::

    StateError                      anything the state layer refuses to do
    ├── CorruptStateError           a state file or journal can't be read back
    │   └── UnsupportedFormatError  written by a newer reconciler
    ├── StateConflictError          the file on disk moved on since it was read
    ├── ClearSecretError            a sensitive value reached state unhashed
    ├── LockError                   the cluster is locked by someone else
    ├── BackendConfigError          a state backend URL that can't be used
    └── BackendError                a state backend failed (unreachable, refused)

Messages name the file and what is wrong; they never contain values.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BackendConfigError",
    "BackendError",
    "ClearSecretError",
    "CorruptStateError",
    "LockError",
    "StateConflictError",
    "StateError",
    "UnsupportedFormatError",
]


class StateError(Exception):
    """Base of every error of the state layer."""


class CorruptStateError(StateError):
    """A state file exists but can't be used; it is never silently replaced."""

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        backup: Path | None = None,
        kind: str = "state file",
    ) -> None:
        # ``path`` is a str for remote backends (``s3://bucket/key``, ``postgres://…``).
        self.path = path
        self.problem = problem
        self.backup = backup
        message = f"{kind} {path} is unreadable: {problem}."
        if backup is not None and backup.exists():
            message += (
                f" The previous version is kept at {backup}; check it and copy it over"
                f" {Path(path).name} by hand if it is right."
            )
        message += " The reconciler will not replace this file; fix or remove it first."
        super().__init__(message)


class UnsupportedFormatError(CorruptStateError):
    """The file's ``format_version`` is newer than this reconciler understands."""


class StateConflictError(StateError):
    """A write would overwrite a state this writer never saw (lost update)."""


class ClearSecretError(StateError):
    """A leaf declared sensitive is about to be stored in clear."""


class LockError(StateError):
    """The cluster's lock is held elsewhere (the message names the holder)."""


class BackendConfigError(StateError):
    """A state backend URL or its environment is unusable (one line, names valid forms)."""


class BackendError(StateError):
    """A state backend refused or failed an operation; the message never holds credentials."""
