"""Apply order of a cluster's changes (docs/planning.md, "How apply proceeds"; pure: no I/O).

Deletions come first, dependents before their dependencies (an add-on is
never removed while something declared to need it still runs), then every
other change in dependency order. Ties keep file order; pruned add-ons, which
have no place in the file, follow the declared deletions by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reconciler.model.plan import Action, Change

__all__ = ["apply_order"]


def apply_order(changes: Sequence[Change], file_index: Mapping[str, int]) -> tuple[Change, ...]:
    by_name = {c.addon: c for c in changes}
    deps = {c.addon: tuple(d for d in c.depends_on if d in by_name and d != c.addon)
            for c in changes}
    deletions = [c.addon for c in changes if c.action is Action.DELETE]
    others = [c.addon for c in changes if c.action is not Action.DELETE]

    def position(name: str) -> tuple[int, str]:
        return (file_index.get(name, len(file_index)), name)

    ordered = _topological(deletions, _reverse(deps, deletions), position)
    ordered += _topological(others, deps, position)
    return tuple(by_name[name] for name in ordered)


def _reverse(deps: Mapping[str, tuple[str, ...]],
             names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``a`` waits for ``b`` if ``b`` depends on ``a``: dependents go first."""
    return {n: tuple(m for m in names if n in deps.get(m, ())) for n in names}


def _topological(names: Sequence[str], waits_for: Mapping[str, tuple[str, ...]],
                 position: Callable[[str], tuple[int, str]]) -> list[str]:
    if not any(waits_for.get(n) for n in names):
        # The usual cluster: nothing waits, so the order is file order (the
        # loop below would pick the same minimum one name at a time: O(n²)).
        return sorted(names, key=position)
    remaining = set(names)
    ordered: list[str] = []
    while remaining:
        ready = [n for n in remaining if not remaining.intersection(waits_for.get(n, ()))]
        if not ready:
            # a cycle (already reported as a plan error): fall back to file order
            ready = list(remaining)
        chosen = min(ready, key=position)
        ordered.append(chosen)
        remaining.remove(chosen)
    return ordered
