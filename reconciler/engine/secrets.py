"""Which leaves of a values tree are sensitive (docs/desired-state.md; pure: no I/O).

The rule itself is ``reconciler.model.sensitive.leaf_is_sensitive``: a leaf
from ``secret()``, a leaf the file declares (``sensitive:``), or a non-empty
string under a key segment that is a secret word, unless ``not_sensitive:``
says otherwise. This module applies it to whole trees and to diff nodes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from reconciler.engine import paths
from reconciler.model.desired import AddonSpec
from reconciler.model.json import JSON
from reconciler.model.sensitive import (
    NO_RULES,
    SensitiveRules,
    is_redacted,
    leaf_is_sensitive,
    sensitive_hash,
    sensitive_leaves,
)

__all__ = [
    "NO_RULES",
    "SensitiveRules",
    "declared_paths",
    "hash_at",
    "node_is_sensitive",
    "redact",
    "rules",
    "rules_for",
    "sensitive_leaves",
]


def rules(secret_paths: Iterable[str] = (), declared: Iterable[str] = (),
          not_sensitive: Iterable[str] = ()) -> SensitiveRules:
    """Rules with every path in the engine's spelling (``custom.list[0]``)."""
    return SensitiveRules(secret_paths=declared_paths(secret_paths),
                          declared=declared_paths(declared),
                          not_sensitive=declared_paths(not_sensitive))


def rules_for(addon: AddonSpec) -> SensitiveRules:
    """The rules an add-on's declaration gives (its ``secret()`` leaves,
    ``sensitive:`` and ``not_sensitive:``)."""
    return rules(addon.secret_sources, addon.sensitive, addon.not_sensitive)


def node_is_sensitive(segments: Sequence[paths.Segment], path: str, value: Any,
                      rules: SensitiveRules) -> bool:
    """True if the node ``value`` at ``path`` is, lies below, or holds a
    sensitive leaf (a diff reports whole nodes: a replaced list, a removed map)."""
    if any(paths.covers(path, p) for p in (*rules.secret_paths, *rules.declared)):
        return True
    if isinstance(value, Mapping | list | tuple) and value:
        return bool(sensitive_leaves(value, rules, keys=segments, path=path))
    return leaf_is_sensitive(segments, path, value, rules)


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
