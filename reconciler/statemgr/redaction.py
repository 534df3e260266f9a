"""A last guard before values reach the disk: declared-sensitive leaves must be hashed.

The caller hashes sensitive leaves (``reconciler.model.sensitive``) before it
builds a ``ManagedAddon``; this check makes a mistake there fail loudly instead
of writing a secret to a file that gets committed, copied and backed up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model.sensitive import is_redacted
from reconciler.model.valuepaths import covered_by_any, leaves
from reconciler.statemgr.errors import ClearSecretError

__all__ = ["assert_no_clear_secrets"]


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
    for path, value in leaves(values):
        if covered_by_any(path, sensitive) and value is not None and not is_redacted(value):
            raise ClearSecretError(
                f"{where}: the sensitive leaf {path!r} is not hashed; refusing to store it"
            )
