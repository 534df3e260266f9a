"""Validation against the packaged JSON Schema, translated into our diagnostics.

jsonschema's messages are written for schema authors ("Additional properties
are not allowed ('verison' was unexpected)"); users get one diagnostic per
problem, at the offending key, with what would be valid.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from reconciler.config.quickcheck import QuickValidator
from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import KeyPath
from reconciler.model.diagnostics import Diagnostic

__all__ = ["SCHEMA_RESOURCE", "describe", "quick_validator", "schema_diagnostics", "schema_text"]

SCHEMA_RESOURCE = "schema/desired-state.schema.json"

_VERSION_KEYS = {"version", "target_version"}

# What a pattern-checked field should look like, by the `$defs` entry or key name.
_PATTERN_HINTS = {
    "cluster_id": "a UUID such as 6b400e1c-4368-11f0-ba56-0255ac100037",
    "endpoint": "https://cce.REGION.myhuaweicloud.com, another https:// URL, or emulator://NAME",
    "region": "a region name such as ap-southeast-1",
    "timeout": 'seconds (600) or a duration such as "90s", "10m", "1h30m"',
    "soak": 'seconds (600) or a duration such as "90s", "10m", "1h30m"',
    "name": "letters, digits, `-`, `_`, `.`, starting with a letter or digit",
    "profiles": "profile names start with a letter or digit, then letters, digits, `-`, `_`, `.`",
    "clusters": "cluster names start with a letter or digit, then letters, digits, `-`, `_`, `.`",
    "addons": "add-on names are template names: lower-case letters, digits and `-`",
}

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def schema_text() -> str:
    return resources.files("reconciler.config").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_text())
    return jsonschema.Draft202012Validator(schema)


@cache
def quick_validator() -> QuickValidator:
    return QuickValidator(json.loads(schema_text()))


def schema_diagnostics(source: SourceFile) -> list[Diagnostic]:
    if quick_validator().is_valid(source.data):
        return []
    # A dict keeps the first of equal diagnostics in order; a list's `in` made 50,000
    # unknown keys quadratic (minutes for a 1 MB file).
    found: dict[Diagnostic, None] = {}
    errors = sorted(_validator().iter_errors(source.data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        for diagnostic in _translate(error, source):
            found.setdefault(diagnostic)
    return list(found)


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _translate(error: jsonschema.ValidationError, source: SourceFile) -> Iterator[Diagnostic]:
    path: KeyPath = tuple(error.absolute_path)
    # jsonschema types these as "value or Unset"; for a reported error they are set.
    kind: Any = error.validator
    instance: Any = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if "propertyNames" in error.absolute_schema_path:
        container = str(path[-1]) if path else ""
        what = {"clusters": "cluster name", "addons": "add-on name",
                "profiles": "profile name"}.get(container, "key")
        if kind == "maxLength":
            # Its state, lock and journal files are named after it: the name must fit
            # a file name (255 bytes) with their suffixes.
            yield source.diagnostic(
                (*path, instance), f"{what} of {len(instance)} characters is too long",
                f"at most {expected} characters")
            return
        yield source.diagnostic(
            (*path, instance), f"invalid {what} `{instance}`", _PATTERN_HINTS.get(container, "")
        )
    elif kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                hint = _suggest(key, allowed)
                yield source.diagnostic((*path, key), f"unknown key `{key}`", hint)
    elif kind == "required" and isinstance(instance, dict):
        for key in expected:
            if key not in instance:
                yield source.diagnostic(path, f"missing required key `{key}`", _required_hint(key))
    elif kind == "type":
        yield _type_diagnostic(error, path, source)
    elif kind == "const":
        yield source.diagnostic(
            path,
            f"unsupported value {describe(instance)}",
            f"use `{expected}`",
            at_value=True,
        )
    elif kind == "enum":
        choices = ", ".join(str(v) for v in expected)
        yield source.diagnostic(
            path, f"invalid value {describe(instance)}", f"valid values: {choices}", at_value=True
        )
    elif kind == "pattern":
        key = str(path[-1]) if path else ""
        hint = _PATTERN_HINTS.get(key, f"must match {expected}")
        yield source.diagnostic(path, f"invalid {key} {describe(instance)}", hint, at_value=True)
    elif kind == "uniqueItems":
        yield source.diagnostic(path, "the list has duplicate items", "list each item once")
    elif kind == "minLength":
        yield source.diagnostic(path, "must not be empty", at_value=True)
    elif kind == "exclusiveMinimum":
        yield source.diagnostic(
            path, f"must be greater than {expected}, got {describe(instance)}", at_value=True
        )
    elif kind == "minimum":
        yield source.diagnostic(
            path, f"must be at least {expected}, got {describe(instance)}", at_value=True
        )
    else:
        yield source.diagnostic(path, error.message, at_value=True)


def _type_diagnostic(
    error: jsonschema.ValidationError, path: KeyPath, source: SourceFile
) -> Diagnostic:
    expected: Any = error.validator_value
    expected_list = [expected] if isinstance(expected, str) else list(expected)
    if "integer" in expected_list and "number" in expected_list:
        expected_list.remove("integer")
    wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected_list)
    key = str(path[-1]) if path else ""
    instance: Any = error.instance
    if (
        key in _VERSION_KEYS
        and isinstance(instance, int | float)
        and not isinstance(instance, bool)
    ):
        raw = source.raw_scalar(path) or str(instance)
        return source.diagnostic(
            path,
            f"a version must be a string, but YAML reads `{raw}` as the number {instance!r}",
            f'quote it: {key}: "{raw}"',
            at_value=True,
        )
    hint = ""
    if len(path) > 1 and path[-2] == "labels" and isinstance(instance, int | float | bool):
        # YAML reads `tier: 3` or `gpu: true` as a number or boolean; labels are text.
        hint = f'quote it: {key}: "{source.raw_scalar(path) or describe(instance)}"'
    return source.diagnostic(
        path, f"expected {wanted}, got {describe(instance)}", hint, at_value=True
    )


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return "valid keys: " + ", ".join(allowed)


def _required_hint(key: str) -> str:
    if key == "apiVersion":
        return "add `apiVersion: reconciler/v1` at the top of the file"
    if key == "clusters":
        return "add a `clusters:` mapping of cluster name → cluster block"
    if key == "cluster_id":
        return "add the CCE cluster's id, e.g. cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037"
    return ""
