"""The one grammar of value paths: how a node of a values tree is named, and
what lies under what.

A path is map keys joined by ``.`` with list indexes as ``[0]``
(``custom.stub_domains.acme.local``, ``flavor.resources[0].limitsCpu``); the
whole tree is ``""``. Keys may themselves contain dots, so a path is never
split on them: trees are walked and paths compared whole (``covers``).

Every layer that decides, stores or shows what is secret (the sensitive
rules, the planner, the plan file, state, drift, apply's freshness check and
the views) names paths with these functions, so they can't disagree on what
``is under`` means or on ``None``:

* empty maps and lists are leaves (they have no children to name);
* ``None`` at a sensitive path stays ``None``: there is nothing to hide, and a
  null must still read as "no value" (``hash_at`` never hashes it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "Segment",
    "ancestry",
    "covered_by_any",
    "covers",
    "format_path",
    "hash_at",
    "join",
    "leaves",
    "nodes",
]

Segment = str | int
"""A map key (``str``) or a list index (``int``)."""


def join(prefix: str, segment: Segment) -> str:
    """The path of ``segment`` inside the node at ``prefix``."""
    if isinstance(segment, int):
        return f"{prefix}[{segment}]"
    return f"{prefix}.{segment}" if prefix else segment


def format_path(segments: Sequence[Segment]) -> str:
    path = ""
    for segment in segments:
        path = join(path, segment)
    return path


def covers(ancestor: str, path: str) -> bool:
    """True if ``path`` is ``ancestor`` or lies below it (``a.b`` covers
    ``a.b``, ``a.b.c`` and ``a.b[0]``, not ``a.bc``). ``""`` covers everything."""
    if not path.startswith(ancestor):
        return False
    rest = path[len(ancestor):]
    return rest == "" or rest[0] in ".["


def covered_by_any(path: str, ancestors: Iterable[str]) -> bool:
    """True if one of ``ancestors`` covers ``path``."""
    return any(covers(a, path) for a in ancestors)


def ancestry(path: str) -> Iterator[str]:
    """``path``, then each path enclosing it, innermost first:
    ``a.b[0].c`` → ``a.b[0].c``, ``a.b[0]``, ``a.b``, ``a``. What a lookup by
    value path falls back along when the leaf itself has no entry."""
    while path:
        yield path
        path = path[:max(path.rfind("."), path.rfind("["), 0)]


def leaves(tree: Any, prefix: str = "", *, into_lists: bool = True) -> Iterator[tuple[str, Any]]:
    """Every leaf of ``tree`` (found at ``prefix``) with its path, in tree order.

    Empty maps and lists are leaves. ``into_lists=False`` makes every list a
    leaf too: where values merge, a list is replaced as a whole and so has one
    origin."""
    kind = type(tree)  # exact types first: isinstance against Mapping is slow here
    if kind in _SCALARS:
        yield prefix, tree
    elif (kind is dict or isinstance(tree, Mapping)) and tree:
        for key, value in tree.items():
            yield from leaves(value, join(prefix, str(key)), into_lists=into_lists)
    elif into_lists and (kind is list or isinstance(tree, tuple)) and tree:
        for index, value in enumerate(tree):
            yield from leaves(value, join(prefix, index), into_lists=into_lists)
    else:
        yield prefix, tree


_SCALARS = frozenset({str, int, float, bool, type(None)})


def nodes(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every node below ``tree`` (not ``tree`` itself when ``prefix`` is ""),
    parents before their children."""
    if prefix:
        yield prefix, tree
    if isinstance(tree, Mapping):
        for key, child in tree.items():
            yield from nodes(child, join(prefix, str(key)))
    elif isinstance(tree, list | tuple):
        for index, child in enumerate(tree):
            yield from nodes(child, join(prefix, index))


def hash_at(tree: Any, roots: Collection[str], hasher: Callable[[Any], Any],
            path: str = "") -> Any:
    """A copy of ``tree`` (found at ``path``) with each node at a path that a
    root covers replaced by ``hasher(node)``, except ``None``, which stays.

    Subtrees with no root inside are shared, not copied. ``hasher`` decides
    the stored form (and keeps a node that is already one)."""
    if not roots:
        return tree
    if path and covered_by_any(path, roots):
        return tree if tree is None else hasher(tree)
    if path and not any(covers(path, root) for root in roots):
        return tree  # nothing to hash below: share, don't copy
    if isinstance(tree, Mapping):
        return {str(k): hash_at(v, roots, hasher, join(path, str(k))) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [hash_at(v, roots, hasher, join(path, i)) for i, v in enumerate(tree)]
    return tree
