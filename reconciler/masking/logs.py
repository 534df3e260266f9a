"""Logging: a masking filter on every root handler, and the ``-v`` handler on stderr."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

from reconciler.masking.redactor import mask

__all__ = ["MaskingFilter", "install_log_masking", "start_verbose_logging"]


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
    handler.setLevel(level)
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(min(previous_level or logging.WARNING, level))

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    return undo
