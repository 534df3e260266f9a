"""Add-on version constraints: ``latest``, ``~1.30``, ``>=1.30,<1.31``.

An add-on's ``version:`` is either an exact template version (``1.30.15``)
or a constraint the planner resolves per cluster to the newest template
version that satisfies it (and supports the cluster). This module only
parses and tests constraints; it is pure (no I/O) and knows nothing of
clusters or templates.

Syntax::

    latest              any version
    ~1.30               1.30.x            (>=1.30, <1.31)
    ~1.30.2             >=1.30.2, <1.31   (the last written part may grow)
    ~1                  1.x               (>=1, <2)
    >=1.30,<1.31        comparisons joined by commas (all must hold);
                        operators: >= > <= < == !=

Versions compare numerically part by part (``1.9`` < ``1.10``); missing
parts count as zero (``1.30`` == ``1.30.0``); a non-numeric part
(``1.2.3-beta``) sorts after every number, as the engine's version order does.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Comparison",
    "ConstraintError",
    "Op",
    "VersionConstraint",
    "is_constraint",
    "newest_allowed",
    "parse_constraint",
    "version_key",
]

VALID_CONSTRAINTS = (
    "an exact version (1.30.15), `latest`, `~1.30` (any 1.30.x), `~1.30.2` (>=1.30.2,<1.31) "
    "or comparisons joined by commas (`>=1.30,<1.31`; operators >=, >, <=, <, ==, !=)"
)

_NUMERIC = re.compile(r"^\d+(?:\.\d+)*$")
# Anything an exact version never holds: tells "a constraint (maybe a bad one)"
# from "an exact version", so a typo in a constraint gets an error, not a 404.
_CONSTRAINT_MARK = re.compile(r"[~<>=!,*\s]")
_COMPARISON = re.compile(r"^(?P<op>>=|<=|==|!=|>|<|=)\s*(?P<version>\S+)$")

VersionKey: TypeAlias = tuple[tuple[int, int | str], ...]


class ConstraintError(ValueError):
    """A constraint that does not parse; the message says what is valid."""


class Op(enum.StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="


_COMPARE: dict[Op, Callable[[VersionKey, VersionKey], bool]] = {
    Op.GE: operator.ge,
    Op.GT: operator.gt,
    Op.LE: operator.le,
    Op.LT: operator.lt,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


def version_key(version: str) -> VersionKey:
    """Orders ``1.30.4`` before ``1.30.33``; non-numeric parts sort after numbers.

    Trailing zero parts are dropped so ``1.30`` and ``1.30.0`` compare equal.
    """
    parts = [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+_]", version)]
    while len(parts) > 1 and parts[-1] == (0, 0):
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class Comparison:
    op: Op
    version: str

    def allows(self, version: str) -> bool:
        return _COMPARE[self.op](version_key(version), version_key(self.version))

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True)
class VersionConstraint:
    """A parsed constraint: ``text`` as written, ``comparisons`` that must all hold
    (none for ``latest``)."""

    text: str
    comparisons: tuple[Comparison, ...]

    def allows(self, version: str) -> bool:
        return all(c.allows(version) for c in self.comparisons)

    def __str__(self) -> str:
        return self.text


def is_constraint(text: str) -> bool:
    """Is ``version:`` a constraint (``latest``, ``~…``, comparisons) rather than an
    exact version? A malformed constraint counts too, so that it is reported."""
    written = text.strip()
    return written == "latest" or bool(_CONSTRAINT_MARK.search(written))


def parse_constraint(text: str) -> VersionConstraint:
    """Parse a constraint; ``ConstraintError`` names what is wrong and what is valid."""
    written = text.strip()
    if written == "latest":
        return VersionConstraint(text, ())
    if written.startswith("~"):
        return VersionConstraint(text, _tilde(written[1:].strip(), text))
    parts = [p.strip() for p in written.split(",")]
    if not written or any(not p for p in parts):
        raise ConstraintError(f"version constraint {text!r} has an empty part; valid: "
                              f"{VALID_CONSTRAINTS}")
    return VersionConstraint(text, tuple(_comparison(p, text) for p in parts))


def newest_allowed(constraint: VersionConstraint, versions: Iterable[str]) -> str | None:
    """The newest of ``versions`` the constraint allows, or None."""
    allowed = [v for v in versions if constraint.allows(v)]
    return max(allowed, key=version_key) if allowed else None


def _tilde(version: str, text: str) -> tuple[Comparison, ...]:
    _numeric(version, text)
    numbers = [int(n) for n in version.split(".")]
    # ~1.30 and ~1.30.2 both stay below 1.31; ~1 stays below 2.
    fixed = numbers[:2] if len(numbers) > 1 else numbers[:1]
    fixed[-1] += 1
    upper = ".".join(str(n) for n in fixed)
    return Comparison(Op.GE, version), Comparison(Op.LT, upper)


def _comparison(part: str, text: str) -> Comparison:
    found = _COMPARISON.match(part)
    if found is None:
        raise ConstraintError(f"version constraint {text!r}: cannot read `{part}`; valid: "
                              f"{VALID_CONSTRAINTS}")
    _numeric(found["version"], text)
    op = Op.EQ if found["op"] == "=" else Op(found["op"])
    return Comparison(op, found["version"])


def _numeric(version: str, text: str) -> None:
    if not _NUMERIC.match(version):
        raise ConstraintError(f"version constraint {text!r}: `{version}` is not a version "
                              f"(numbers joined by dots, e.g. 1.30); valid: {VALID_CONSTRAINTS}")
