"""Replace the leaves that came from ``secret()`` by salted hashes before a plan leaves memory.

Which leaves are sensitive is decided once, by ``model.sensitive.leaf_is_sensitive``
(the planner records them in ``Change.sensitive_paths``); this module only
hashes the nodes at given paths (``model.valuepaths.hash_at``) and answers
whether a shown path touches one.
Already redacted strings are kept as they are: redacting twice gives the same
result, which is what lets a saved plan be loaded and written again byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from reconciler.model import valuepaths
from reconciler.model.sensitive import keep_hashed, sensitive_hash

__all__ = [
    "Hasher",
    "path_is_sensitive",
    "redact",
    "salted_hasher",
]

Hasher = Callable[[Any], str]

def path_is_sensitive(path: str, sensitive_paths: Collection[str]) -> bool:
    """For a path seen on its own (a field change): it is or lies under one of
    the change's sensitive leaves."""
    return valuepaths.covered_by_any(path, sensitive_paths)


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
    """A copy of ``node`` (found at ``path``) with the nodes at ``sensitive_paths`` hashed
    (``valuepaths.hash_at``: a null stays null, an already hashed node stays)."""
    return valuepaths.hash_at(node, tuple(sensitive_paths), keep_hashed(hasher), path)
