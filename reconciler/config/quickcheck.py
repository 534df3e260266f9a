"""A fast "definitely valid?" check for the keywords our schema uses.

jsonschema is thorough but costs about a millisecond per add-on; a file with
thousands of clusters would spend seconds there. This checker interprets the
same schema for the keywords it knows and answers True only when the instance
is certainly valid; whenever it says False (or is unsure) jsonschema runs and
explains. So it can make validation faster, never more lenient (the test
suite compares both on every corpus file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["QuickValidator", "UnsupportedSchema"]

_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "default"}
_KEYWORDS = {
    "$ref",
    "type",
    "const",
    "enum",
    "properties",
    "additionalProperties",
    "required",
    "propertyNames",
    "items",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "exclusiveMinimum",
    "minimum",
    "maximum",
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this checker does not interpret."""


class QuickValidator:
    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._check_keywords(schema)

    def _check_keywords(self, schema: Any) -> None:
        if isinstance(schema, bool):
            return
        unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise UnsupportedSchema(f"unsupported keywords: {sorted(unknown)}")
        for key in ("items", "propertyNames"):
            if key in schema:
                self._check_keywords(schema[key])
        if isinstance(schema.get("additionalProperties"), dict):
            self._check_keywords(schema["additionalProperties"])
        for sub in schema.get("properties", {}).values():
            self._check_keywords(sub)
        for sub in schema.get("$defs", {}).values():
            self._check_keywords(sub)

    def is_valid(self, instance: Any, schema: Any = None) -> bool:
        if schema is None:
            schema = self._root
        if schema is True:
            return True
        if schema is False:
            return False
        if "$ref" in schema and not self.is_valid(instance, self._resolve(schema["$ref"])):
            return False
        if "type" in schema and not _has_type(instance, schema["type"]):
            return False
        if "const" in schema and not _same(instance, schema["const"]):
            return False
        if "enum" in schema and not any(_same(instance, v) for v in schema["enum"]):
            return False
        if isinstance(instance, str):
            return self._string_ok(instance, schema)
        if isinstance(instance, dict):
            return self._object_ok(instance, schema)
        if isinstance(instance, list):
            return self._array_ok(instance, schema)
        if isinstance(instance, int | float) and not isinstance(instance, bool):
            above = schema.get("exclusiveMinimum")
            least = schema.get("minimum")
            most = schema.get("maximum")
            return ((above is None or instance > above) and (least is None or instance >= least)
                    and (most is None or instance <= most))
        return True

    def _string_ok(self, instance: str, schema: Mapping[str, Any]) -> bool:
        if len(instance) < schema.get("minLength", 0):
            return False
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            return False
        pattern = schema.get("pattern")
        return pattern is None or self._pattern(pattern).search(instance) is not None

    def _object_ok(self, instance: dict[str, Any], schema: Mapping[str, Any]) -> bool:
        if any(key not in instance for key in schema.get("required", ())):
            return False
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for key, value in instance.items():
            if names is not None and not self.is_valid(key, names):
                return False
            if key in properties:
                if not self.is_valid(value, properties[key]):
                    return False
            elif not self.is_valid(value, additional):
                return False
        return True

    def _array_ok(self, instance: list[Any], schema: Mapping[str, Any]) -> bool:
        items = schema.get("items")
        if items is not None and not all(self.is_valid(item, items) for item in instance):
            return False
        if schema.get("uniqueItems"):
            # Only strings are compared here; anything else is left to jsonschema.
            if not all(isinstance(item, str) for item in instance):
                return False
            return len(set(instance)) == len(instance)
        return True

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise UnsupportedSchema(f"only local $ref: {ref}")
        node: Any = self._root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            compiled = self._patterns[pattern] = re.compile(pattern)
        return compiled


def _has_type(instance: Any, wanted: str | list[str]) -> bool:
    return any(_is(instance, t) for t in ([wanted] if isinstance(wanted, str) else wanted))


def _is(instance: Any, type_name: str) -> bool:
    if type_name == "string":
        return isinstance(instance, str)
    if type_name == "object":
        return isinstance(instance, dict)
    if type_name == "array":
        return isinstance(instance, list)
    if type_name == "boolean":
        return isinstance(instance, bool)
    if type_name == "null":
        return instance is None
    if isinstance(instance, bool):
        return False
    if type_name == "integer":
        return isinstance(instance, int)  # 1.0 counts for jsonschema: left to it (False here)
    if type_name == "number":
        return isinstance(instance, int | float)
    return False


def _same(instance: Any, expected: Any) -> bool:
    return type(instance) is type(expected) and instance == expected
