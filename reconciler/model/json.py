"""The one alias for a decoded JSON value, shared by every layer.

``Any`` on purpose: values come from YAML, JSON files and the CCE API, and a
recursive alias would make every ``dict[str, JSON]`` access need a cast while
catching nothing the schema checks don't already catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

__all__ = ["JSON", "ancestry"]

JSON: TypeAlias = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""


def ancestry(path: str) -> Iterator[str]:
    """``path``, then each path enclosing it, innermost first, in the engine's
    spelling of value paths: ``a.b[0].c`` → ``a.b[0].c``, ``a.b[0]``, ``a.b``, ``a``.
    What a lookup by value path falls back along when the leaf itself has no entry."""
    while path:
        yield path
        path = path[:max(path.rfind("."), path.rfind("["), 0)]
