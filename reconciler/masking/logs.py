"""Logging: a masking filter on every root handler, the ``-v`` handler on
stderr and the ``--log-file`` handler writing JSON lines."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from reconciler.masking.files import open_append
from reconciler.masking.redactor import mask

__all__ = [
    "THIRD_PARTY_LOGGERS",
    "JsonLinesFormatter",
    "MaskingFilter",
    "install_log_masking",
    "start_file_logging",
    "start_verbose_logging",
]

# What every LogRecord has; anything else on a record came from ``extra=``
# (the request fields: method, path, status, duration_ms, attempt, request_id…).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


class MaskingFilter(logging.Filter):
    """Masks a record's message, traceback and stack in place, for every handler after it.

    The message is formatted here (``msg % args``) so that a secret passed
    as an argument is masked too; the traceback text is pre-set, which the
    formatter then uses instead of formatting the exception again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install_log_masking() -> Callable[[], None]:
    """Add a ``MaskingFilter`` to each root handler lacking one; returns the undo
    (a test process outlives a CLI run, and its log capture handler with it)."""
    added: list[tuple[logging.Handler, MaskingFilter]] = []
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            masking = MaskingFilter()
            handler.addFilter(masking)
            added.append((handler, masking))

    def undo() -> None:
        for handler, masking in added:
            handler.removeFilter(masking)

    return undo


def start_verbose_logging(verbose: int) -> Callable[[], None]:
    """``-v`` shows INFO (e.g. retries), ``-vv`` DEBUG, on stderr, masked; returns the undo.

    The handler writes to the ``sys.stderr`` of the moment, the masking
    wrapper once the CLI has started; the filter masks even without it.
    """
    if verbose <= 0:
        return lambda: None
    level = logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return _attach(handler, level)


THIRD_PARTY_LOGGERS = (
    "botocore", "boto3", "s3transfer", "urllib3", "psycopg", "httpx", "httpcore", "hpack",
)
"""Libraries whose INFO and DEBUG lines stay out of ``-v``/``-vv`` and ``--log-file``:
they log what they send and receive (botocore signed headers and S3 object
bodies, i.e. our state; psycopg connection strings) in forms the redactor
cannot be taught in advance. Their warnings and errors still come through,
masked. Our own request log (``reconciler.cloud``) says what -vv needs."""


def _attach(handler: logging.Handler, level: int) -> Callable[[], None]:
    """Put a masking ``handler`` at ``level`` on the root logger; returns its undo."""
    handler.setLevel(level)
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    previous_level = root.level
    libraries = [logging.getLogger(name) for name in THIRD_PARTY_LOGGERS]
    previous_library_levels = [library.level for library in libraries]
    for library in libraries:
        if library.level == logging.NOTSET or library.level < logging.WARNING:
            library.setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(min(previous_level or logging.WARNING, level))

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        for library, previous in zip(libraries, previous_library_levels, strict=True):
            library.setLevel(previous)
        handler.close()  # a StreamHandler leaves its stream open

    return undo


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's
    ``extra`` fields, and the traceback if any; every string masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = mask(value) if isinstance(value, str) else _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = mask(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    """JSON scalars as they are; anything else as its masked text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask(str(value))


def start_file_logging(path: Path, verbose: int) -> Callable[[], None]:
    """Append JSON lines to ``path`` (created 0600: a support file, not a
    public one): INFO and up, DEBUG (bodies) from ``-vv``; returns the undo.

    Raises OSError when the file cannot be opened, before anything is logged."""
    level = logging.DEBUG if verbose >= 2 else logging.INFO
    fd = open_append(path, 0o600)
    stream = os.fdopen(fd, "a", encoding="utf-8")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    detach = _attach(handler, level)

    def undo() -> None:
        detach()
        stream.close()

    return undo
