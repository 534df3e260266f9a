"""Replace the leaves that came from ``secret()`` by salted hashes before a plan leaves memory.

Which leaves are sensitive is decided once, by ``model.sensitive.leaf_is_sensitive``
(the planner records them in ``Change.sensitive_paths``); this module only
hashes the nodes at given paths and answers whether a shown path touches one.
Already redacted strings are kept as they are: redacting twice gives the same
result, which is what lets a saved plan be loaded and written again byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from reconciler.model.sensitive import is_redacted, is_under, sensitive_hash

__all__ = [
    "Hasher",
    "child_path",
    "index_path",
    "is_under",
    "last_key",
    "path_is_sensitive",
    "redact",
    "salted_hasher",
]

Hasher = Callable[[Any], str]

# The last key of a dotted path, ignoring trailing list indexes: "a.b[0]" -> "b".
_LAST_KEY = re.compile(r"([^.\[\]]+)(\[\d+\])*$")


def child_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def last_key(path: str) -> str:
    match = _LAST_KEY.search(path)
    return match.group(1) if match else path


def path_is_sensitive(path: str, sensitive_paths: Collection[str]) -> bool:
    """For a path seen on its own (a field change): it is or lies under one of
    the change's sensitive leaves."""
    return any(is_under(path, p) for p in sensitive_paths)


def salted_hasher(salt: str | None, cluster: str) -> Hasher:
    """Hash with the cluster's salt; fail only if a secret actually needs hashing."""

    def hash_value(value: Any) -> str:
        if salt is None:
            raise ValueError(
                f"cluster {cluster!r} has sensitive values but no salt was given "
                "(pass salts[cluster name], the salt of its state lineage)"
            )
        return sensitive_hash(value, salt)

    return hash_value


def redact(node: Any, path: str, sensitive_paths: Collection[str], hasher: Hasher) -> Any:
    """A copy of ``node`` (found at ``path``) with the nodes at ``sensitive_paths`` hashed."""
    if not sensitive_paths or is_redacted(node):
        return node
    if path in sensitive_paths:
        return hasher(node)
    if path and not any(is_under(p, path) for p in sensitive_paths):
        return node  # nothing to hash below: share, don't copy
    if isinstance(node, dict):
        return {str(key): redact(child, child_path(path, str(key)), sensitive_paths, hasher)
                for key, child in node.items()}
    if isinstance(node, list | tuple):
        return [redact(child, index_path(path, i), sensitive_paths, hasher)
                for i, child in enumerate(node)]
    return node
