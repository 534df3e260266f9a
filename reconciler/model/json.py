"""The one alias for a decoded JSON value, shared by every layer.

``Any`` on purpose: values come from YAML, JSON files and the CCE API, and a
recursive alias would make every ``dict[str, JSON]`` access need a cast while
catching nothing the schema checks don't already catch.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSON", "DuplicateKeyError", "unique_keys"]

JSON: TypeAlias = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(object_pairs_hook=unique_keys)``: refuse an object that names a
    key twice. The standard library keeps the last silently, so a reviewer could
    read one value of a plan while apply used the other."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKeyError(key)
        found[key] = value
    return found

