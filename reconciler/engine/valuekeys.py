"""Declared value keys checked against the template (pure: no I/O).

CCE silently keeps a key its template does not know and goes on using the
default of the key that was meant (``maxNodeTotal: 80`` leaves
``maxNodesTotal`` at 50), so every key path the file declares must exist in
the default values of the version it resolves to (``basic``, ``custom`` and
the flavor preset).

What counts as known:

- a key of a template map at the same path;
- anything below a template key whose default is a placeholder (``null``,
  ``""``) or an empty map (``stub_domains: {}``): the template says nothing
  about what goes there;
- anything inside a list: a list default shows one example item, not a closed
  set of keys (a toleration may carry ``value`` where the example has none);
- anything at all when the version has no defaults (the catalogue dropped
  the version the instance runs: plan goes on with its live values);
- anything an ``allow_unknown_values`` pattern of the add-on covers (the
  wildcards of ``ignore_changes``: ``custom.extraArgs.*``, ``[*]``).

Types are checked by ``checks.value_types``; a key that is unknown here is
not also type-checked. The result depends only on the template version, the
preset, the declared key paths and the allow patterns, so it is memoised on
those: a fleet of thousands of clusters declares the same few shapes.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.engine import paths
from reconciler.model import valuepaths
from reconciler.model.json import JSON

__all__ = ["UnknownKey", "unknown_keys"]


@dataclass(frozen=True, slots=True)
class UnknownKey:
    path: str
    """The declared path (``custom.maxNodeTotal``), relative to ``values``."""
    key: str
    """Its last key (``maxNodeTotal``)."""
    parent: str
    """Where it is declared (``custom``; ``""`` for the top of ``values``)."""
    close: tuple[str, ...]
    """Template keys at ``parent`` that look alike, best first."""
    known: tuple[str, ...]
    """Every template key at ``parent``, sorted."""


def unknown_keys(desired: Mapping[str, JSON], defaults: Mapping[str, JSON],
                 allow: tuple[str, ...] = (), *, source: object = None,
                 preset: str | None = None) -> tuple[UnknownKey, ...]:
    """The key paths of ``desired`` that ``defaults`` does not know (see the
    module doc). ``source`` is what ``defaults`` were read from (the planner
    passes the template version, and ``preset`` the flavor preset): the answer
    is then reused for every add-on declaring the same key paths."""
    if not desired or not defaults:
        return ()  # no defaults at all (a version the catalogue dropped): nothing to go by
    key = None
    if source is not None:
        key = (id(source), preset, _shape(desired), allow)
        seen = _MEMO.get(key)
        if seen is not None and seen[0] is source:
            return seen[1]
    problems: list[UnknownKey] = []
    _walk(desired, defaults, "", problems)
    if problems and allow:
        problems = [p for p in problems if not _allowed(desired, p.path, allow)]
    result = tuple(problems)
    if key is not None:
        if len(_MEMO) > 20_000:
            _MEMO.clear()
        _MEMO[key] = (source, result)  # holds the source: its id is not reused while cached
    return result


_MEMO: dict[tuple[int, str | None, tuple[object, ...], tuple[str, ...]],
            tuple[object, tuple[UnknownKey, ...]]] = {}
"""(template version, preset, declared key paths, allow patterns) → the
unknown keys: per shape of declaration, not per cluster."""


def _shape(tree: Mapping[str, JSON]) -> tuple[object, ...]:
    """The map keys of ``tree`` as a hashable nest (a leaf is ``None``): what
    the check depends on, without the values (which differ per cluster).
    Desired values come normalised, so their maps are plain dicts."""
    shape: list[object] = []
    for key, value in tree.items():
        shape.append(key)
        shape.append(_shape(value) if type(value) is dict else None)
    return tuple(shape)


def _walk(desired: Mapping[str, JSON], default: Mapping[str, JSON], prefix: str,
          found: list[UnknownKey]) -> None:
    for key, value in desired.items():
        path = valuepaths.join(prefix, str(key))
        if key not in default:
            found.append(_unknown(str(key), path, prefix, default))
            continue
        expected = default[key]
        if _open(expected) or not isinstance(value, Mapping) or not isinstance(
                expected, Mapping):
            continue  # a placeholder, a list, or a type mismatch (value_types says so)
        _walk(value, expected, path, found)


def _open(default: JSON) -> bool:
    """The template says nothing about what goes below this default."""
    return default is None or default == "" or (isinstance(default, Mapping) and not default)


def _unknown(key: str, path: str, parent: str, default: Mapping[str, JSON]) -> UnknownKey:
    known = sorted(str(k) for k in default)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if not close:
        # a case slip (maxnodestotal) scores low on the ratio but is plainly meant
        close = [k for k in known if k.lower() == key.lower()]
    return UnknownKey(path=sys.intern(path), key=key, parent=parent, close=tuple(close),
                      known=tuple(known))


def _allowed(desired: Mapping[str, JSON], path: str, allow: tuple[str, ...]) -> bool:
    """``path`` is a node an allow pattern names in ``desired``, or lies below
    one. A pattern ending in wildcards (``custom.extraArgs.*``) also allows the
    node they hang from: it says any key goes there, so the map itself (even
    empty) is accepted."""
    for pattern in allow:
        for written in {pattern, _without_trailing_wildcards(pattern)}:
            if not written:
                continue
            for segments in paths.expand(desired, written):
                if valuepaths.covers(valuepaths.format_path(segments), path):
                    return True
    return False


def _without_trailing_wildcards(pattern: str) -> str:
    while True:
        if pattern.endswith("[*]"):
            pattern = pattern[:-3]
        elif pattern == "*" or pattern.endswith(".*"):
            pattern = pattern[:-2] if pattern != "*" else ""
        else:
            return pattern
