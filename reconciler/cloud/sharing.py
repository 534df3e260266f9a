"""Equal JSON subtrees read in one session share one object.

Why: a plan over 10,000 clusters holds 80,000 add-on ``values`` trees, and
those of one template version differ only in a few ids; as separate dicts
they cost ~3.5 KB each (280 MB). Shared, only the differing parts cost memory.

Callers must treat shared trees as read-only, which every reader of live
values already does (the planner copies before merging).
"""

from __future__ import annotations

from typing import Any

from reconciler.model.json import JSON

__all__ = ["JsonInterner"]

_MAX_ENTRIES = 500_000
"""Past this many distinct subtrees the table starts afresh (trees already
shared stay valid: sharing is only lost for later ones)."""


class JsonInterner:
    def __init__(self) -> None:
        # Key: the node's kind and its children's tokens; a container child's
        # token is the id of its shared object, kept alive by this table.
        self._seen: dict[tuple[Any, ...], JSON] = {}
        # Keys of the maps that differ (say, by a cluster id) are still shared.
        self._keys: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def share(self, value: JSON) -> JSON:
        """An object equal to ``value`` (same types, same key order), shared
        with every equal tree seen before."""
        if len(self._seen) > _MAX_ENTRIES:
            self._seen.clear()
            self._keys.clear()
        return self._share(value)[0]

    def _share(self, value: JSON) -> tuple[JSON, Any]:
        kind = type(value)
        if kind is dict:
            out: dict[str, JSON] = {}
            tokens: list[Any] = [dict]
            keys = self._keys
            for key, child in value.items():
                key = keys.setdefault(key, key)
                shared, token = self._share(child)
                out[key] = shared
                tokens.append(key)
                tokens.append(token)
        elif kind is list:
            items: list[JSON] = []
            tokens = [list]
            for child in value:
                shared, token = self._share(child)
                items.append(shared)
                tokens.append(token)
            out = items  # type: ignore[assignment]
        elif kind is str or value is None:
            return value, value
        else:
            # 1, 1.0 and True are equal in Python: the type keeps them apart.
            return value, (kind, value)
        key = tuple(tokens)
        found = self._seen.get(key)
        if found is None:
            self._seen[key] = found = out
        return found, ("#", id(found))
