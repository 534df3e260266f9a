"""Which leaves of a values tree are sensitive (DESIGN 3.4; pure: no I/O).

A leaf is sensitive when the user declared it (it came from ``secret()``,
``AddonSpec.sensitive``) or when any key on its path looks secret
(``password``, ``token``, ``sk``, …: ``reconciler.model.sensitive``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from reconciler.engine import paths
from reconciler.model.json import JSON
from reconciler.model.sensitive import is_redacted, looks_secret, sensitive_hash

__all__ = [
    "declared_paths",
    "hash_at",
    "holds_secret_key",
    "path_is_sensitive",
    "redact",
    "sensitive_leaves",
]


@functools.lru_cache(maxsize=4096)
def _key_looks_secret(key: str) -> bool:
    return looks_secret(key)


def path_is_sensitive(segments: Sequence[paths.Segment], path: str,
                      declared: Collection[str]) -> bool:
    """True if the node at ``path`` is, lies below, or holds a sensitive leaf
    by declaration or by a key name on the way to it."""
    if any(isinstance(s, str) and _key_looks_secret(s) for s in segments):
        return True
    return any(paths.covers(d, path) or paths.covers(path, d) for d in declared)


def holds_secret_key(value: JSON) -> bool:
    """True if a map anywhere inside ``value`` has a key that looks secret."""
    # Plain loops and exact-type checks first: this walks every add-on's whole
    # values tree on each plan (DESIGN 12: CPU per add-on).
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return False
    if kind is dict or isinstance(value, Mapping):
        for key, child in value.items():
            if _key_looks_secret(key if type(key) is str else str(key)):
                return True
            if holds_secret_key(child):
                return True
        return False
    if kind is list or isinstance(value, list | tuple):
        for child in value:
            if holds_secret_key(child):
                return True
    return False


def sensitive_leaves(values: Mapping[str, JSON], declared: Collection[str]) -> frozenset[str]:
    """Paths of the leaves of ``values`` that no output may show in clear."""
    if not declared and not holds_secret_key(values):
        return frozenset()  # the usual add-on: no path strings to build
    found: set[str] = set()
    _collect(values, "", False, tuple(declared), found)
    return frozenset(found)


def _collect(node: JSON, path: str, secret_key: bool, declared: tuple[str, ...],
             found: set[str]) -> None:
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            _collect(value, paths.join(path, key), secret_key or _key_looks_secret(key),
                     declared, found)
        return
    # A list is one leaf (it is replaced as a whole), so a secret declared at one
    # of its items (``servers[0]``, ``servers[1][0]``) makes the whole list sensitive.
    if (secret_key or holds_secret_key(node)
            or any(paths.covers(d, path) or paths.covers(path, d) for d in declared)):
        found.add(path)


_DOTTED_INDEX = re.compile(r"\.(\d+)(?=[.\[]|$)")


def declared_paths(declared: Iterable[str]) -> frozenset[str]:
    """Declared sensitive paths in both list-index spellings: ``custom.list.0``
    (as a dotted key list may write it) and ``custom.list[0]`` (ours)."""
    found = set()
    for path in declared:
        found.add(path)
        found.add(_DOTTED_INDEX.sub(r"[\1]", path))
    return frozenset(found)


def redact(value: JSON, salt: str) -> JSON:
    """The stored form of a sensitive value (None stays None: nothing to hide)."""
    return None if value is None else sensitive_hash(value, salt)


def hash_at(values: Mapping[str, Any], sensitive_paths: Collection[str], salt: str) -> Any:
    """A copy of ``values`` with every node at or below a sensitive path
    replaced by its salted hash: the form state files store values in, and the
    form drift compares live values in. Already-hashed nodes stay as they are."""
    roots = tuple(sensitive_paths)

    def walk(node: Any, path: str) -> Any:
        if path and any(paths.covers(root, path) for root in roots):
            return node if node is None or is_redacted(node) else sensitive_hash(node, salt)
        if isinstance(node, Mapping):
            return {str(k): walk(v, paths.join(path, str(k))) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, paths.join(path, i)) for i, v in enumerate(node)]
        return node

    return walk(values, "")
