"""Add-on version constraints: ``latest``, ``~1.30``, ``>=1.30,<1.31``.

A minimal stand-in written on the engine branch so the planner can be built
and tested; the config branch owns the full module (same interface:
``parse_constraint(text).allows(version)``, ``is_constraint(text)``). Pure.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ConstraintError", "VersionConstraint", "is_constraint", "parse_constraint"]

_Key = tuple[tuple[int, int | str], ...]
_OPS: dict[str, Callable[[_Key, _Key], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt,
}
_COMPARISON = re.compile(r"^(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)$")


class ConstraintError(ValueError):
    """A constraint that does not parse; the message says what is valid."""


def _key(version: str) -> _Key:
    # Missing parts count as zero (1.30 == 1.30.0), as the config module does.
    parts = [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+_]", version)]
    while len(parts) > 1 and parts[-1] == (0, 0):
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class VersionConstraint:
    text: str
    comparisons: tuple[tuple[str, str], ...]
    """(operator, version) pairs that must all hold; none for ``latest``."""

    def allows(self, version: str) -> bool:
        return all(_OPS[op](_key(version), _key(bound)) for op, bound in self.comparisons)

    def __str__(self) -> str:
        return self.text


def is_constraint(text: str) -> bool:
    return text.strip() == "latest" or bool(re.search(r"[~<>=!,]", text))


def parse_constraint(text: str) -> VersionConstraint:
    written = text.strip()
    if written == "latest":
        return VersionConstraint(text, ())
    if written.startswith("~") and re.fullmatch(r"\d+(\.\d+)*", written[1:].strip()):
        numbers = [int(n) for n in written[1:].strip().split(".")]
        upper = numbers[:2] if len(numbers) > 1 else numbers[:1]
        upper[-1] += 1
        return VersionConstraint(text, ((">=", written[1:].strip()),
                                        ("<", ".".join(map(str, upper)))))
    found = [_COMPARISON.match(part.strip()) for part in written.split(",")]
    if not written or not all(found):
        raise ConstraintError(f"version constraint {text!r} is not valid: use latest, ~1.30 "
                              "or comparisons joined by commas (>=1.30,<1.31)")
    return VersionConstraint(text, tuple((m.group(1), m.group(2)) for m in found if m))
