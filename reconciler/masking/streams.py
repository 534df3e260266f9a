"""stdout/stderr wrappers whose ``write`` masks, installed once at CLI start.

Everything that prints (click.echo, rich consoles, logging handlers,
tracebacks) looks ``sys.stdout``/``sys.stderr`` up when it writes or when it
is created, so replacing them before any command runs covers them all.
Each ``write`` is masked on its own: click, rich and logging write a message
whole, so a secret split across two writes is not expected.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO, cast

from reconciler.masking.redactor import mask

__all__ = ["MaskingStream", "install_stream_masking"]


class MaskingStream:
    """A text stream that masks what it writes and hands it to ``inner``.

    It has no ``buffer``: click writes through a text stream's binary buffer
    when it distrusts the stream's encoding, which would bypass the masking.
    Anything else it lacks (``closed``, ``name``, …) is the inner stream's.
    """

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        # click hands a stream to echo as-is only when both are set.
        self.encoding = getattr(inner, "encoding", None) or "utf-8"
        self.errors = getattr(inner, "errors", None) or "strict"

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes with b"" to tell text from binary streams
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.inner.write(mask(text))
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self.inner, name)


def install_stream_masking() -> None:
    """Replace ``sys.stdout`` and ``sys.stderr`` by masking wrappers (once)."""
    if not isinstance(sys.stdout, MaskingStream):
        sys.stdout = cast(TextIO, MaskingStream(sys.stdout))
    if not isinstance(sys.stderr, MaskingStream):
        sys.stderr = cast(TextIO, MaskingStream(sys.stderr))
