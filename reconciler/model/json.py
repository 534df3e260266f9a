"""The one alias for a decoded JSON value, shared by every layer.

``Any`` on purpose: values come from YAML, JSON files and the CCE API, and a
recursive alias would make every ``dict[str, JSON]`` access need a cast while
catching nothing the schema checks don't already catch.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSON"]

JSON: TypeAlias = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""

