"""A last guard before values reach the disk: declared-sensitive leaves must be hashed.

The caller hashes sensitive leaves (``reconciler.model.sensitive``) before it
builds a ``ManagedAddon``; this check makes a mistake there fail loudly instead
of writing a secret to a file that gets committed, copied and backed up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.model.sensitive import is_redacted
from reconciler.statemgr.errors import ClearSecretError

__all__ = ["assert_no_clear_secrets", "leaf_paths"]


def leaf_paths(values: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf as ``(dotted path, value)``; list indexes as ``[0]``."""
    if isinstance(values, Mapping):
        for key, child in values.items():
            yield from leaf_paths(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(values, list | tuple):
        for index, child in enumerate(values):
            yield from leaf_paths(child, f"{prefix}[{index}]")
    else:
        yield prefix, values


def assert_no_clear_secrets(
    values: Mapping[str, Any], sensitive_paths: Iterable[str], *, where: str = "values"
) -> None:
    """Raise ``ClearSecretError`` if a leaf at or under a sensitive path is not hashed.

    Paths are compared as whole leaf paths, not split on dots, so keys that
    themselves contain dots (``stub_domains.acme.local``) work. The message
    names the path, never the value.
    """
    sensitive = tuple(sensitive_paths)
    if not sensitive:
        return
    for path, value in leaf_paths(values):
        if _is_under_any(path, sensitive) and value is not None and not is_redacted(value):
            raise ClearSecretError(
                f"{where}: the sensitive leaf {path!r} is not hashed; refusing to store it"
            )


def _is_under_any(path: str, roots: tuple[str, ...]) -> bool:
    return any(
        path == root or path.startswith(root + ".") or path.startswith(root + "[") for root in roots
    )
