"""``reconciler values``: an add-on's values as text, one leaf a line.

Without a cluster: the template defaults (what keys exist and what they
default to). For a cluster: the full values apply would send, each leaf with
where it comes from (``default``, ``live``, ``desired``, ``profile:NAME``,
``derived``). Sensitive leaves are never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from reconciler.model import valuepaths
from reconciler.model.json import JSON

__all__ = ["SENSITIVE", "values_text"]

SENSITIVE = "(sensitive)"


def values_text(title: str, values: Mapping[str, JSON], *,
                provenance: Mapping[str, str] | None = None,
                sensitive: frozenset[str] = frozenset(), notes: tuple[str, ...] = ()) -> str:
    lines = [title]
    lines += [f"# {note}" for note in notes]
    leaves = list(valuepaths.leaves(dict(values)))
    width = max((len(path) for path, _ in leaves), default=0)
    for path, value in leaves:
        if not path:
            continue
        shown = SENSITIVE if valuepaths.covered_by_any(path, sensitive) else json.dumps(
            value, ensure_ascii=False)
        line = f"  {path.ljust(width)}  {shown}"
        if provenance is not None:
            line += f"   ({provenance.get(path, 'default')})"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"
