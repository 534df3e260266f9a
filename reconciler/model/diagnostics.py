"""Problems with user input, collected (all of them) rather than raised one by one."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Diagnostic", "InputError", "Severity"]


class Severity(enum.StrEnum):
    """How bad a diagnostic is. A ``StrEnum`` so the text (plan JSON, views,
    ``str(diagnostic)``) stays the plain lower-case word."""

    ERROR = "error"
    """Exit 1; the add-on (or file) gets no change."""
    WARNING = "warning"
    """Shown, does not fail."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a desired-state file or a plan.

    ``message`` says what is wrong; ``hint`` what would be valid. ``file``,
    ``line`` (1-based) and ``column`` (1-based) point at the offending key or
    value when it is known (0 when not). ``key_path`` is dotted
    (``clusters.prod-eu.addons.coredns.version``).
    """

    file: str
    line: int
    column: int
    key_path: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def location(self) -> str:
        if not self.file:
            return "<input>"
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file

    def __str__(self) -> str:
        text = f"{self.location()}: {self.severity}: "
        if self.key_path:
            text += f"{self.key_path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(Exception):
    """Raised at a layer boundary when diagnostics contain errors."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))
