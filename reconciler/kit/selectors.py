"""Cluster choosers: a name, a glob (``prod-*``) or a label selector (kubectl's syntax).

Wherever the user chooses clusters (``--cluster``, a rollout wave's
``clusters:``, a profile's, an emulator failure rule's) one of these is
written. A selector is told from a name by its operators: names never hold
``=``, ``!`` or parentheses. The syntax is Kubernetes' label selector::

    env=prod            env==prod          env!=prod
    tier in (gold,silver)                  tier notin (bronze)
    gpu                 (the key is set)   !gpu (the key is not set)
    env=prod,region!=eu                    (every requirement must hold)

A bare word is a cluster *name* here, not kubectl's existence test:
``--cluster demo-prod`` has always meant the cluster. ``!gpu`` is a selector
on its own; ``gpu`` tests the key only beside another requirement
(``gpu,env=prod``).

Stdlib only: the emulator (which imports nothing of the client) uses it too.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ClusterPattern",
    "Op",
    "PatternKind",
    "Requirement",
    "Selector",
    "SelectorError",
    "is_selector",
    "label_problem",
    "parse_pattern",
    "parse_selector",
]

# A label key: an optional DNS-subdomain prefix and a name of ≤ 63 characters.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^(?:[a-z0-9](?:[a-z0-9.-]{{0,251}}[a-z0-9])?/)?{_NAME}$")
_VALUE = re.compile(rf"^(?:{_NAME})?$")
_GLOB = re.compile(r"[*?\[]")
_SELECTOR_MARK = re.compile(r"[=!()]|\s(?:not)?in\s*\(")
_SET = re.compile(r"^(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_EXISTS = re.compile(r"^(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)$")


class SelectorError(ValueError):
    """A selector that does not parse; the message says what is wrong and what is valid."""


class Op(enum.StrEnum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    NOT_EXISTS = "!exists"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.op:
            case Op.EQUALS | Op.IN:
                return value is not None and value in self.values
            case Op.NOT_EQUALS | Op.NOT_IN:
                # Kubernetes: a cluster without the key satisfies ``!=`` and ``notin``.
                return value is None or value not in self.values
            case Op.EXISTS:
                return value is not None
            case Op.NOT_EXISTS:
                return value is None

    def __str__(self) -> str:
        match self.op:
            case Op.EQUALS | Op.NOT_EQUALS:
                return f"{self.key}{self.op}{self.values[0]}"
            case Op.IN | Op.NOT_IN:
                return f"{self.key} {self.op} ({','.join(self.values)})"
            case Op.EXISTS:
                return self.key
            case Op.NOT_EXISTS:
                return f"!{self.key}"


@dataclass(frozen=True)
class Selector:
    """Requirements that must all hold (an empty selector matches everything)."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def is_selector(text: str) -> bool:
    """Does ``text`` read as a label selector rather than a cluster name or glob?"""
    return bool(_SELECTOR_MARK.search(text))


def parse_selector(text: str) -> Selector:
    """Parse kubectl's label-selector syntax; ``SelectorError`` says what is wrong."""
    requirements = tuple(_requirement(part.strip(), text) for part in _split(text))
    if not requirements:
        raise SelectorError(
            f"empty selector {text!r}: write e.g. env=prod or tier in (gold,silver)")
    return Selector(requirements)


def _split(text: str) -> list[str]:
    """Split on the commas that are not inside ``( … )``."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
            if depth > 1:
                raise SelectorError(f"selector {text!r}: nested parentheses")
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"selector {text!r}: `)` without `(`")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        raise SelectorError(f"selector {text!r}: `(` without `)`")
    parts.append(text[start:])
    if len(parts) > 1 and any(not p.strip() for p in parts):
        raise SelectorError(f"selector {text!r}: an empty requirement between commas")
    return [p for p in parts if p.strip()]


def _requirement(part: str, whole: str) -> Requirement:
    if found := _SET.match(part):
        values = tuple(v.strip() for v in found["values"].split(","))
        if values == ("",):
            raise SelectorError(f"selector {whole!r}: `{part}` lists no values")
        return Requirement(_key(found["key"], whole), Op(found["op"]),
                           tuple(_value(v, whole) for v in values))
    if found := _EQUALITY.match(part):
        op = Op.NOT_EQUALS if found["op"] == "!=" else Op.EQUALS
        return Requirement(_key(found["key"], whole), op, (_value(found["value"], whole),))
    if found := _EXISTS.match(part):
        op = Op.NOT_EXISTS if found["neg"] else Op.EXISTS
        return Requirement(_key(found["key"], whole), op)
    raise SelectorError(
        f"selector {whole!r}: cannot read `{part}`; valid requirements are key=value, "
        "key!=value, key in (a,b), key notin (a,b), key and !key, joined by commas")


_KEY_RULE = ("letters, digits, `-`, `_`, `.`, at most 63 characters, starting and ending "
             "with a letter or digit, optionally after a `prefix/`")
_VALUE_RULE = ("letters, digits, `-`, `_`, `.`, at most 63 characters, starting and ending "
               "with a letter or digit, or empty")


def label_problem(key: str, value: str) -> str | None:
    """Why ``key: value`` is not a valid label (the rules selectors match by), or None.

    The same rules as a selector's keys and values: a label a selector could
    not name would be dead weight."""
    if not _KEY.match(key):
        return f"`{key}` is not a label key ({_KEY_RULE})"
    if not _VALUE.match(value):
        return f"`{value}` is not a label value ({_VALUE_RULE})"
    return None


def _key(key: str, whole: str) -> str:
    if not _KEY.match(key):
        raise SelectorError(f"selector {whole!r}: `{key}` is not a label key ({_KEY_RULE})")
    return key


def _value(value: str, whole: str) -> str:
    if not _VALUE.match(value):
        raise SelectorError(f"selector {whole!r}: `{value}` is not a label value ({_VALUE_RULE})")
    return value


class PatternKind(enum.StrEnum):
    NAME = "name"
    GLOB = "glob"
    SELECTOR = "selector"


@dataclass(frozen=True)
class ClusterPattern:
    """One way of choosing clusters, as written (``text``) and parsed."""

    text: str
    kind: PatternKind
    selector: Selector | None = None

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        match self.kind:
            case PatternKind.NAME:
                return name == self.text
            case PatternKind.GLOB:
                # fnmatchcase: cluster names are case-sensitive keys on every platform.
                return fnmatch.fnmatchcase(name, self.text)
            case PatternKind.SELECTOR:
                assert self.selector is not None
                return self.selector.matches(labels)

    def __str__(self) -> str:
        return self.text


def parse_pattern(text: str) -> ClusterPattern:
    """A cluster name, a glob or a selector; ``SelectorError`` for a bad selector."""
    if is_selector(text):
        return ClusterPattern(text, PatternKind.SELECTOR, parse_selector(text))
    if _GLOB.search(text):
        return ClusterPattern(text, PatternKind.GLOB)
    return ClusterPattern(text, PatternKind.NAME)
