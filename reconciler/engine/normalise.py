"""Normalisation of values before they are compared (docs/planning.md; pure: no I/O).

CCE hands values back in shapes that differ from what was sent without
meaning anything different: ``2500`` comes back as ``"2500"``, ``true`` as
``"true"``, empty maps appear or vanish, key order changes. Both sides of a
diff go through :func:`normalise` so none of that shows up as a change.

The *schema* is the target version's template defaults (``basic``, ``custom``,
``flavor``): the type of a default says what type a value at the same path
is meant to have. Where there is no default, values are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from reconciler.engine import paths
from reconciler.model.json import JSON

__all__ = ["coerce_scalar", "normalise", "type_name"]

_BOOL_WORDS = {"true": True, "false": False}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def normalise(values: JSON, schema: JSON = None) -> JSON:
    """A copy of ``values`` with keys sorted, empty maps dropped and scalars
    coerced to the type of the schema's default at the same path."""
    kind = type(values)
    if kind in _SCALARS:
        return coerce_scalar(values, schema) if schema is not None else values
    if kind is dict or (kind is not list and isinstance(values, Mapping)):
        sub_schema = schema if paths.is_map(schema) else None
        out: dict[str, JSON] = {}
        for key in sorted(values):
            child = normalise(values[key], sub_schema.get(key) if sub_schema else None)
            if isinstance(child, dict) and not child:
                continue  # an empty map means the same as an absent key
            out[key] = child
        return out
    if kind is list or isinstance(values, tuple):
        element_schemas = schema if isinstance(schema, list) and schema else None
        return [
            normalise(v, _element_schema(element_schemas, i)) for i, v in enumerate(values)
        ]
    return coerce_scalar(values, schema)


def _element_schema(schemas: list[JSON] | None, index: int) -> JSON:
    if schemas is None:
        return None
    return schemas[index] if index < len(schemas) else schemas[0]


def coerce_scalar(value: JSON, default: JSON) -> JSON:
    """``value`` in the type of ``default`` when it is the same value spelt
    differently (``"2500"`` for a number, ``"true"`` for a bool, ``2500`` for
    a string); otherwise ``value`` unchanged."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.lower()]
        return value
    if isinstance(default, int | float):
        if isinstance(value, str):
            return _parse_number(value)
        return value
    if isinstance(default, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
    return value


def _parse_number(text: str) -> JSON:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def type_name(value: JSON) -> str:
    """The JSON type of a value, as a user reads it in an error message."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return "null"
