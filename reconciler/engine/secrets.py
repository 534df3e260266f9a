"""Which leaves of a values tree are sensitive (docs/desired-state.md; pure: no I/O).

The rule itself is ``reconciler.model.sensitive.leaf_is_sensitive``: a leaf
from ``secret()``, a leaf the file declares (``sensitive:``), or a non-empty
string under a key segment that is a secret word, unless ``not_sensitive:``
says otherwise. This module applies it to whole trees and to diff nodes.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from reconciler.model import valuepaths
from reconciler.model.desired import AddonSpec
from reconciler.model.json import JSON
from reconciler.model.sensitive import (
    NO_RULES,
    PUBLISHED_SALT_PREFIX,
    SensitiveRules,
    keep_hashed,
    leaf_is_sensitive,
    sensitive_hash,
    sensitive_leaves,
)
from reconciler.model.state import ManagedAddon

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
    "sensitive_paths",
]


def rules(secret_paths: Iterable[str] = (), declared: Iterable[str] = (),
          not_sensitive: Iterable[str] = ()) -> SensitiveRules:
    """Rules with every path in the engine's spelling (``custom.list[0]``)."""
    return SensitiveRules(secret_paths=declared_paths(secret_paths),
                          declared=declared_paths(declared),
                          not_sensitive=declared_paths(not_sensitive))


def rules_for(addon: AddonSpec | None, recorded: ManagedAddon | None = None) -> SensitiveRules:
    """The rules for one add-on: its declaration's (``secret()`` leaves,
    ``sensitive:``, ``not_sensitive:``) and the paths its state remembers.

    A path the state records as sensitive (applied from ``secret()``, or
    sensitive by name or declaration when it was applied, refreshed or
    imported) stays sensitive whatever the files say now: a pull request that
    replaces ``secret()`` by a literal, or adds ``not_sensitive:``, must not
    print the value still running. Only ``state unmark-sensitive`` forgets one."""
    remembered = recorded.sensitive_paths if recorded is not None else ()
    if addon is None:
        return rules(remembered)
    return rules((*addon.secret_sources, *remembered), addon.sensitive, addon.not_sensitive)


def sensitive_paths(values: Mapping[str, JSON], addon: AddonSpec | None,
                    recorded: ManagedAddon | None = None) -> frozenset[str]:
    """Every path of one add-on's ``values`` that no output, state or log may
    show in clear: the leaves the rules above make sensitive, and every path
    the state remembers (present in ``values`` or not, so it stays remembered
    until the operator clears it). The one answer for plans, state records and
    masking live values."""
    found = sensitive_leaves(values, rules_for(addon, recorded))
    if recorded is not None and recorded.sensitive_paths:
        return found | frozenset(recorded.sensitive_paths)
    return found


def node_is_sensitive(segments: Sequence[valuepaths.Segment], path: str, value: Any,
                      rules: SensitiveRules) -> bool:
    """True if the node ``value`` at ``path`` is, lies below, or holds a
    sensitive leaf (a diff reports whole nodes: a replaced list, a removed map)."""
    if any(valuepaths.covers(path, p) for p in (*rules.secret_paths, *rules.declared)):
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
    """The form of a sensitive value in a field change (None stays None:
    nothing to hide). It is only compared, never written: plan files, drift
    reports and views drop a sensitive change's values. So a published salt
    (slow on purpose, for what a plan file carries) is swapped for a key of
    this process, rather than paying the slow fingerprint for nothing."""
    if value is None:
        return None
    if salt.startswith(PUBLISHED_SALT_PREFIX):
        salt = _PROCESS_KEY + salt
    return sensitive_hash(value, salt)


_PROCESS_KEY = secrets.token_hex(16)


def hash_at(values: Mapping[str, Any], sensitive_paths: Collection[str], salt: str) -> Any:
    """A copy of ``values`` with every node at or below a sensitive path
    replaced by its salted hash: the form state files store values in, and the
    form drift compares live values in. Already-hashed nodes stay as they are."""
    return valuepaths.hash_at(values, tuple(sensitive_paths),
                              keep_hashed(functools.partial(sensitive_hash, salt=salt)))
