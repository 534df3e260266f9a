"""Typed, validating access to a scenario's YAML mappings: every error names
the file and the key path."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reconciler.kit.selectors import Selector, SelectorError, parse_selector
from reconciler.model.json import JSON

__all__ = ["Reader", "ScenarioError", "read_labels", "read_regex", "read_selector"]


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the key."""


class Reader:
    """Typed access to a YAML mapping; every error names file and key path."""

    def __init__(self, source: str, path: str, data: JSON) -> None:
        self.source, self.path, self.data = source, path, data
        if not isinstance(data, Mapping):
            self.fail(f"must be a mapping, got {type(data).__name__}")

    def fail(self, what: str, key: str | None = None) -> None:
        where = self.path if key is None else (f"{self.path}.{key}" if self.path else key)
        raise ScenarioError(f"{self.source}: {where or '(top level)'}: {what}")

    def child_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed and not str(key).startswith("x-"):
                self.fail(f"unknown key; valid keys: {', '.join(sorted(allowed))}", str(key))

    def get(self, key: str, kind: type | tuple[type, ...], default: JSON = ..., *,
            required: bool = False) -> JSON:
        if key not in self.data or self.data[key] is None:
            if required or default is ...:
                self.fail("is required", key)
            return default
        value = self.data[key]
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # YAML reads 1.30 as a float; versions are strings
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.fail(f"must be {names}, got {type(value).__name__}", key)
        return value

    def items(self, key: str, required: bool = False) -> list[Reader]:
        seq = self.get(key, list, default=[], required=required)
        return [Reader(self.source, f"{self.child_path(key)}[{i}]", v) for i, v in enumerate(seq)]


def read_regex(reader: Reader, key: str) -> str | None:
    value: str | None = reader.get(key, str, default=None)
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            reader.fail(f"is not a valid regular expression: {exc}", key)
    return value


def read_selector(reader: Reader, key: str) -> Selector | None:
    """A kubectl label selector (``env=prod,tier in (gold,silver)``), or None if absent."""
    text: str | None = reader.get(key, str, default=None)
    if text is None:
        return None
    try:
        return parse_selector(text)
    except SelectorError as exc:
        reader.fail(f"is not a label selector: {exc}", key)
        raise AssertionError from None  # unreachable: fail raises


def read_labels(reader: Reader, key: str) -> dict[str, str]:
    """A string map of labels; keys and values checked as Kubernetes label keys and
    values (what a selector can match). Numbers are read as strings (``tier: 1``)."""
    raw = reader.get(key, dict, {})
    labels: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            reader.fail(f"must be a string, got {type(value).__name__}", f"{key}.{name}")
        text = str(value)
        try:
            # A selector requirement checks key and value with kubectl's rules.
            parse_selector(f"{name}={text}")
        except SelectorError:
            reader.fail(f"`{name}: {text}` is not a label: keys and values are letters, "
                        "digits, `-`, `_`, `.` (at most 63, starting and ending with a letter "
                        "or digit; a key may have a `prefix/`)", f"{key}.{name}")
        labels[str(name)] = text
    return labels
