"""Checks the schema cannot express: across files, between keys, and secret placement.

They read data that may have failed the schema, so every step checks the
shape it relies on and skips what is malformed (the schema already said so).
Template-dependent checks (template exists, version supports the cluster)
belong to the planner, which sees the live templates.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import KeyPath
from reconciler.model.diagnostics import Diagnostic

__all__ = ["addons_of", "clusters_of", "defaults_of", "semantic_diagnostics"]

_VALUE_PATH = re.compile(r"^(basic|custom|flavor)(\.[^.\s\[\]]+)+$")
# ignore_changes also takes `*` for one key and `[*]` (or `[N]`) for list items:
# the engine expands them over the live tree (engine.paths.expand).
_IGNORE_PATH = re.compile(r"^(basic|custom|flavor)(\.(\*|[^.\s\[\]*]+)|\[(\*|\d+)\])+$")
_PATH_RULES = {
    "ignore_changes": (_IGNORE_PATH, "a dotted path into values that starts with basic., "
                       "custom. or flavor.; `*` stands for one key and `[*]` for every list "
                       "item, e.g. custom.tolerations[*].tolerationSeconds"),
    "sensitive": (_VALUE_PATH, "a dotted path into values that starts with basic., custom. or "
                  "flavor., e.g. custom.feature_gates"),
    "not_sensitive": (_VALUE_PATH, "a dotted path into values that starts with basic., custom. "
                      "or flavor., e.g. custom.token"),
}


def clusters_of(source: SourceFile) -> Iterator[tuple[str, dict[str, Any]]]:
    data = source.data
    if isinstance(data, dict) and isinstance(data.get("clusters"), dict):
        for name, block in data["clusters"].items():
            if isinstance(block, dict):
                yield name, block


def addons_of(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    addons = cluster.get("addons")
    if not isinstance(addons, dict):
        return {}
    return {name: block for name, block in addons.items() if isinstance(block, dict)}


def defaults_of(source: SourceFile) -> dict[str, Any]:
    data = source.data
    defaults = data.get("defaults") if isinstance(data, dict) else None
    return defaults if isinstance(defaults, dict) else {}


def semantic_diagnostics(sources: Sequence[SourceFile]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    found += _duplicate_clusters(sources)
    for source in sources:
        found += _secret_placement(source)
        for name, cluster in clusters_of(source):
            found += _inherited_fields(source, name, cluster)
            found += _addon_references(source, name, cluster)
    return found


def _duplicate_clusters(sources: Sequence[SourceFile]) -> Iterator[Diagnostic]:
    names: dict[str, tuple[SourceFile, KeyPath]] = {}
    ids: dict[str, tuple[SourceFile, KeyPath]] = {}
    for source in sources:
        for name, cluster in clusters_of(source):
            path: KeyPath = ("clusters", name)
            if name in names:
                first, first_path = names[name]
                yield source.diagnostic(
                    path,
                    f"cluster `{name}` is declared twice",
                    f"first declared at {first.diagnostic(first_path, '').location()}; cluster "
                    "names must be unique across all files",
                )
            else:
                names[name] = source, path
            cluster_id = cluster.get("cluster_id")
            if not isinstance(cluster_id, str):
                continue
            id_path: KeyPath = ("clusters", name, "cluster_id")
            if cluster_id.lower() in ids:
                first, first_path = ids[cluster_id.lower()]
                where = first.diagnostic(first_path, "", at_value=True).location()
                yield source.diagnostic(
                    id_path,
                    f"cluster_id {cluster_id} is used by two clusters",
                    f"`{first_path[1]}` at {where} has it too; declare each cluster once",
                    at_value=True,
                )
            else:
                ids[cluster_id.lower()] = source, id_path


def _inherited_fields(
    source: SourceFile, name: str, cluster: dict[str, Any]
) -> Iterator[Diagnostic]:
    defaults = defaults_of(source)
    for key in ("region", "project_id"):
        if key not in cluster and key not in defaults:
            yield source.diagnostic(
                ("clusters", name),
                f"cluster `{name}` has no `{key}`",
                f"set `{key}` in the cluster block or in `defaults`",
            )


def _addon_references(
    source: SourceFile, name: str, cluster: dict[str, Any]
) -> Iterator[Diagnostic]:
    addons = addons_of(cluster)
    base: KeyPath = ("clusters", name, "addons")
    edges: dict[str, list[str]] = {}
    for addon, block in addons.items():
        depends = block.get("depends_on")
        edges[addon] = []
        if isinstance(depends, list):
            for index, target in enumerate(depends):
                if not isinstance(target, str):
                    continue
                path = (*base, addon, "depends_on", index)
                if target == addon:
                    yield source.diagnostic(
                        path,
                        f"`{addon}` depends on itself",
                        "remove it from depends_on",
                        at_value=True,
                    )
                elif target not in addons:
                    yield source.diagnostic(
                        path,
                        f"depends_on names `{target}`, which is not declared in cluster `{name}`",
                        _declared_hint(target, [a for a in addons if a != addon]),
                        at_value=True,
                    )
                else:
                    edges[addon].append(target)
        for key, (pattern, valid) in _PATH_RULES.items():
            entries = block.get(key)
            if not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                if isinstance(entry, str) and not pattern.match(entry):
                    yield source.diagnostic(
                        (*base, addon, key, index),
                        f"invalid {key} path {entry!r}",
                        valid,
                        at_value=True,
                    )
    for cycle in _cycles(edges):
        yield source.diagnostic(
            (*base, cycle[0], "depends_on"),
            "depends_on cycle: " + " → ".join(cycle),
            "add-ons are applied in dependency order, so the dependencies must not loop; "
            "remove one of these depends_on entries",
        )


def _declared_hint(target: str, declared: list[str]) -> str:
    close = difflib.get_close_matches(target, declared, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    return "declared add-ons: " + (", ".join(declared) or "none")


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Each dependency cycle once, starting at its first add-on in file order."""
    order = {name: i for i, name in enumerate(edges)}
    done: set[str] = set()
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            loop = stack[stack.index(node) :]
            start = min(range(len(loop)), key=lambda i: order[loop[i]])
            loop = loop[start:] + loop[:start]
            if frozenset(loop) not in seen_sets:
                seen_sets.add(frozenset(loop))
                found.append([*loop, loop[0]])
            return
        if node in done:
            return
        stack.append(node)
        for target in edges.get(node, []):
            visit(target, stack)
        stack.pop()
        done.add(node)

    for name in edges:
        visit(name, [])
    return found


def _secret_placement(source: SourceFile) -> Iterator[Diagnostic]:
    """secret() only inside an add-on's values: nowhere else is redacted."""
    if source.token_pattern.search(source.rendered) is None:
        return
    for path, text, is_key in _strings(source.data, ()):
        for match in source.token_pattern.finditer(text):
            use = source.secrets.get(match.group(0))
            if is_key:
                yield source.diagnostic(
                    path, "secret() cannot be used in a key", "use it as a value under `values`"
                )
            elif use is None:
                yield source.diagnostic(
                    path,
                    "a secret() value was changed by a filter or passed through `vars`, so it "
                    "can no longer be tracked",
                    "call secret('NAME') directly in the add-on's values, without filters",
                    at_value=True,
                )
            elif not _inside_values(path):
                yield source.diagnostic(
                    path,
                    f"secret('{use.name}') is used outside an add-on's `values`",
                    "secrets may only be used in clusters.NAME.addons.ADDON.values; use env() "
                    "for settings that are not secret",
                    at_value=True,
                )


def _inside_values(path: KeyPath) -> bool:
    return len(path) > 5 and path[0] == "clusters" and path[2] == "addons" and path[4] == "values"


def _strings(data: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str, bool]]:
    """Every string leaf, and every key (flagged, reported at its own path)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key), key, True
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _strings(item, (*path, index))
    elif isinstance(data, str):
        yield path, data, False
