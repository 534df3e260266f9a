"""Equal JSON subtrees read in one session share one object.

Why: a plan over 10,000 clusters holds 80,000 add-on ``values`` trees, and
those of one template version differ only in a few ids; as separate dicts
they cost ~3.5 KB each (280 MB). Shared, only the differing parts cost memory.

Callers must treat shared trees as read-only, which every reader of live
values already does (the planner copies before merging).
"""

from __future__ import annotations

import orjson

from reconciler.model.json import JSON

__all__ = ["JsonInterner"]

_MAX_ENTRIES = 500_000
"""Past this many distinct subtrees the table starts afresh (trees already
shared stay valid: sharing is only lost for later ones)."""


class JsonInterner:
    """Keys equal subtrees by the hash of their orjson encoding.

    Why not a walk building a key per node in Python (the first version): it
    was a tenth of a plan's client CPU. The encoding is C, keeps key order and
    tells ``1``, ``1.0`` and ``true`` apart; a hit is confirmed with ``==``,
    so a hash collision costs sharing, never a wrong value (and ``==`` can't
    confuse ``1`` with ``true`` unless their encodings' hashes collided too)."""

    def __init__(self) -> None:
        self._seen: dict[int, JSON] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def share(self, value: JSON) -> JSON:
        """An object equal to ``value`` (same types, same key order), shared
        with every equal tree seen before. ``value``'s own containers may be
        reused and rewritten in place (callers pass freshly decoded JSON)."""
        if len(self._seen) > _MAX_ENTRIES:
            self._seen.clear()
        return self._share(value)

    def _share(self, value: JSON) -> JSON:
        kind = type(value)
        if kind is not dict and kind is not list:
            return value
        try:
            key = hash(orjson.dumps(value))
        except (orjson.JSONEncodeError, TypeError):
            return value  # not encodable (an int past 64 bits): left as it is
        found = self._seen.get(key)
        if found is not None and type(found) is kind and found == value:
            return found
        if kind is dict:
            tree: dict[str, JSON] = value
            for name, child in tree.items():
                if type(child) is dict or type(child) is list:
                    tree[name] = self._share(child)
        else:
            items: list[JSON] = value
            for index, child in enumerate(items):
                if type(child) is dict or type(child) is list:
                    items[index] = self._share(child)
        self._seen[key] = value
        return value
