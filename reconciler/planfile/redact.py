"""Replace sensitive leaves by salted hashes before values leave memory.

A node is sensitive when its dotted path is declared (``Change.sensitive_paths``,
from ``secret()``), lies under a declared path, or its key name looks secret
(``looks_secret``). The whole node is hashed, whatever its type, so a secret
map or list leaks neither its content nor its shape. Already redacted strings
are kept as they are: redacting twice gives the same result, which is what
lets a saved plan be loaded and written again byte for byte.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from typing import Any

from reconciler.model.sensitive import is_redacted, looks_secret, sensitive_hash

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

# Key names repeat across add-ons and clusters; the regex check dominates large plans.
_key_looks_secret = functools.lru_cache(maxsize=8192)(looks_secret)

# The last key of a dotted path, ignoring trailing list indexes: "a.b[0]" -> "b".
_LAST_KEY = re.compile(r"([^.\[\]]+)(\[\d+\])*$")


def child_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def is_under(path: str, ancestor: str) -> bool:
    """True if ``path`` is ``ancestor`` or lies inside it."""
    return path == ancestor or path.startswith((ancestor + ".", ancestor + "["))


def last_key(path: str) -> str:
    match = _LAST_KEY.search(path)
    return match.group(1) if match else path


def path_is_sensitive(path: str, sensitive_paths: Collection[str]) -> bool:
    """For a path seen on its own (a field change): declared, under a declared path,
    or ending in a secret-looking key."""
    if _key_looks_secret(last_key(path)):
        return True
    return any(is_under(path, declared) for declared in sensitive_paths)


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
    """A copy of ``node`` (found at ``path``) with every sensitive node hashed."""
    if not sensitive_paths:
        return _redact_secret_keys(node, hasher)
    if is_redacted(node):
        return node
    if path in sensitive_paths:
        return hasher(node)
    if isinstance(node, dict):
        result: dict[str, Any] = {}
        for key, child in node.items():
            key_path = child_path(path, str(key))
            if _key_looks_secret(str(key)) and not is_redacted(child):
                result[str(key)] = hasher(child)
            else:
                result[str(key)] = redact(child, key_path, sensitive_paths, hasher)
        return result
    if isinstance(node, list | tuple):
        return [
            redact(child, index_path(path, i), sensitive_paths, hasher)
            for i, child in enumerate(node)
        ]
    return node


def _redact_secret_keys(node: Any, hasher: Hasher) -> Any:
    # Same walk without paths: most changes declare no secret, and building
    # every path dominates the cost of serialising a large plan.
    if isinstance(node, dict):
        return {
            str(key): (
                hasher(child)
                if _key_looks_secret(str(key)) and not is_redacted(child)
                else _redact_secret_keys(child, hasher)
            )
            for key, child in node.items()
        }
    if isinstance(node, list | tuple):
        return [_redact_secret_keys(child, hasher) for child in node]
    return node
