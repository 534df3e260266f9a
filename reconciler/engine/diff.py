"""The per-key diff between live values and the full values to send
(docs/planning.md, "What counts as a change").

Pure: no I/O. The only module that touches deepdiff; its result objects are
translated into ``reconciler.model.plan.FieldChange`` here and go no further.

Both sides are normalised first (``engine.normalise``); ``ignore`` paths are
dropped from both. Two equality checks, on the raw and on the normalised
trees, short-circuit the common case of an unchanged add-on (deepdiff costs
~100x more). As everywhere in Python, ``1 == 1.0 == True``: a change between
those spellings alone is not reported. Sensitive changes carry salted
hashes instead of their values, so no clear secret leaves this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from reconciler.engine import paths, secrets
from reconciler.engine.normalise import normalise
from reconciler.model import valuepaths
from reconciler.model.json import JSON
from reconciler.model.plan import FieldChange, FieldChangeKind
from reconciler.model.sensitive import SensitiveRules

__all__ = ["diff_values"]

_ADDED = frozenset({"dictionary_item_added", "iterable_item_added", "attribute_added"})
_REMOVED = frozenset({"dictionary_item_removed", "iterable_item_removed", "attribute_removed"})


def diff_values(live: Mapping[str, JSON], full: Mapping[str, JSON], *, ignore: Sequence[str],
                sensitive: SensitiveRules, schema: Mapping[str, JSON] | None,
                salt: str = "") -> tuple[FieldChange, ...]:
    """Changes that sending ``full`` makes to ``live``, one per differing leaf,
    in key order. Pure. ``schema`` (the template defaults) drives type
    normalisation; ``salt`` hashes sensitive before/after values."""
    if live == full:
        return ()  # the usual unchanged add-on: full values are live values
    before = normalise(live, schema)
    after = normalise(full, schema)
    for path in ignore:
        _drop(before, path)
        _drop(after, path)
    if before == after:
        return ()
    report = DeepDiff(before, after, view="tree", ignore_numeric_type_changes=True,
                      threshold_to_diff_deeper=0)
    changes = [
        change
        for report_type, levels in report.items()
        for level in levels
        for change in _translate(report_type, level, sensitive, salt)
    ]
    changes.sort(key=lambda c: _sort_key(c[0]))
    return tuple(change for _, change in changes)


def _drop(tree: dict[str, JSON], path: str) -> None:
    # Deepest and last first, so popping list items leaves the other indexes valid.
    for segments in sorted(paths.expand(tree, path), key=_pop_order, reverse=True):
        if segments:
            paths.pop(tree, segments)


def _pop_order(segments: list[valuepaths.Segment]) -> list[tuple[int, int, str]]:
    return [(0, s, "") if isinstance(s, int) else (1, 0, s) for s in segments]


def _translate(report_type: str, level: Any, sensitive: SensitiveRules,
               salt: str) -> Iterator[tuple[list[valuepaths.Segment], FieldChange]]:
    segments: list[valuepaths.Segment] = list(level.path(output_format="list"))
    old = None if isinstance(level.t1, NotPresent) else level.t1
    new = None if isinstance(level.t2, NotPresent) else level.t2
    if report_type in _ADDED:
        yield from _leaf_changes(segments, FieldChangeKind.ADDED, None, new, sensitive, salt)
    elif report_type in _REMOVED:
        yield from _leaf_changes(segments, FieldChangeKind.REMOVED, old, None, sensitive, salt)
    else:
        yield segments, _change(segments, FieldChangeKind.CHANGED, old, new, sensitive, salt)


def _leaf_changes(segments: list[valuepaths.Segment], kind: FieldChangeKind, old: JSON, new: JSON,
                  sensitive: SensitiveRules,
                  salt: str) -> Iterator[tuple[list[valuepaths.Segment], FieldChange]]:
    """An added or removed map is reported leaf by leaf, like any other key."""
    value = new if kind is FieldChangeKind.ADDED else old
    if isinstance(value, Mapping) and value:
        for key, child in value.items():
            child_segments = [*segments, key]
            if kind is FieldChangeKind.ADDED:
                yield from _leaf_changes(child_segments, kind, None, child, sensitive, salt)
            else:
                yield from _leaf_changes(child_segments, kind, child, None, sensitive, salt)
        return
    yield segments, _change(segments, kind, old, new, sensitive, salt)


def _change(segments: list[valuepaths.Segment], kind: FieldChangeKind, old: JSON, new: JSON,
            sensitive: SensitiveRules, salt: str) -> FieldChange:
    path = valuepaths.format_path(segments)
    hidden = (
        secrets.node_is_sensitive(segments, path, old, sensitive)
        or secrets.node_is_sensitive(segments, path, new, sensitive)
    )
    if hidden:
        return FieldChange(path=path, kind=kind, before=secrets.redact(old, salt),
                           after=secrets.redact(new, salt), sensitive=True)
    return FieldChange(path=path, kind=kind, before=old, after=new)


def _sort_key(segments: list[valuepaths.Segment]) -> list[tuple[int, int, str]]:
    # map keys sort by name, list elements by index, as the normalised trees do
    return [(1, s, "") if isinstance(s, int) else (0, 0, s) for s in segments]
