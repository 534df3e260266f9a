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

from reconciler.config.profiles import Profiles, cluster_addons, profile_diagnostics, profiles_of
from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import KeyPath
from reconciler.kit.selectors import label_problem
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.versions import ConstraintError, is_constraint, parse_constraint

__all__ = ["addons_of", "clusters_of", "defaults_of", "semantic_diagnostics"]

_VALUE_PATH = re.compile(r"^(basic|custom|flavor)(\.[^.\s\[\]]+)+$")
# ignore_changes also takes `*` for one key and `[*]` (or `[N]`) for list items:
# the engine expands them over the live tree (engine.paths.expand).
_IGNORE_PATH = re.compile(r"^(basic|custom|flavor)(\.(\*|[^.\s\[\]*]+)|\[(\*|\d+)\])+$")
_PATH_RULES = {
    "ignore_changes": (_IGNORE_PATH, "a dotted path into values that starts with basic., "
                       "custom. or flavor.; `*` stands for one key and `[*]` for every list "
                       "item, e.g. custom.tolerations[*].tolerationSeconds"),
    "allow_unknown_values": (_IGNORE_PATH, "a dotted path into values that starts with "
                             "basic., custom. or flavor.; `*` stands for one key and `[*]` "
                             "for every list item, e.g. custom.extraArgs.*"),
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


def semantic_diagnostics(sources: Sequence[SourceFile], *, all_read: bool = True
                         ) -> list[Diagnostic]:
    """``all_read=False``: some file could not be read, so a profile it may declare
    is not reported as missing (that would only echo the file's own error)."""
    found: list[Diagnostic] = []
    found += _duplicate_clusters(sources)
    profiles = profiles_of(sources)
    found += profile_diagnostics(sources, profiles, unknown=all_read)
    for source in sources:
        found += _secret_placement(source)
        found += _labels(source, ("defaults", "labels"), defaults_of(source).get("labels"))
        for path, block in _written_addons(source):
            found += _addon_paths(source, path, block)
            found += _version(source, path, block)
        for name, cluster in clusters_of(source):
            found += _inherited_fields(source, name, cluster)
            found += _labels(source, ("clusters", name, "labels"), cluster.get("labels"))
            found += _addon_references(source, name, cluster, profiles)
    return found


def _written_addons(source: SourceFile) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """Every add-on block as written: in the clusters and in the profiles."""
    data = source.data if isinstance(source.data, dict) else {}
    for top in ("clusters", "profiles"):
        blocks = data.get(top)
        if not isinstance(blocks, dict):
            continue
        for owner, block in blocks.items():
            if isinstance(block, dict):
                for addon, addon_block in addons_of(block).items():
                    yield (top, owner, "addons", addon), addon_block


def _labels(source: SourceFile, path: KeyPath, labels: Any) -> Iterator[Diagnostic]:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        if not isinstance(value, str):
            continue  # the schema said so
        problem = label_problem(key, value)
        if problem is not None:
            yield source.diagnostic(
                (*path, key), f"invalid label: {problem}",
                "labels are Kubernetes labels, matched by selectors such as env=prod",
                at_value=label_problem(key, "") is None)


def _version(source: SourceFile, path: KeyPath, block: dict[str, Any]) -> Iterator[Diagnostic]:
    version = block.get("version")
    if not isinstance(version, str) or not is_constraint(version):
        return
    try:
        parse_constraint(version)
    except ConstraintError as err:
        yield source.diagnostic((*path, "version"), str(err), at_value=True)


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
    source: SourceFile, name: str, cluster: dict[str, Any], profiles: Profiles
) -> Iterator[Diagnostic]:
    """depends_on of the add-ons as merged (a profile's add-on may depend on another
    profile's), each reported where its list is written."""
    merged = {addon.name: addon for addon in cluster_addons(source, name, cluster, profiles)}
    edges: dict[str, list[str]] = {}
    for addon, found in merged.items():
        depends = found.block.get("depends_on")
        edges[addon] = []
        if not isinstance(depends, list):
            continue
        written = found.layer_of("depends_on")
        for index, target in enumerate(depends):
            if not isinstance(target, str):
                continue
            path = (*written.path, "depends_on", index)
            if target == addon:
                yield written.source.diagnostic(
                    path,
                    f"`{addon}` depends on itself",
                    "remove it from depends_on",
                    at_value=True,
                )
            elif target not in merged:
                yield written.source.diagnostic(
                    path,
                    f"depends_on names `{target}`, which is not declared in cluster `{name}`",
                    _declared_hint(target, [a for a in merged if a != addon]),
                    at_value=True,
                )
            else:
                edges[addon].append(target)
    for cycle in _cycles(edges):
        written = merged[cycle[0]].layer_of("depends_on")
        yield written.source.diagnostic(
            (*written.path, "depends_on"),
            "depends_on cycle: " + " → ".join(cycle),
            "add-ons are applied in dependency order, so the dependencies must not loop; "
            "remove one of these depends_on entries",
        )


def _addon_paths(source: SourceFile, path: KeyPath, block: dict[str, Any]
                 ) -> Iterator[Diagnostic]:
    for key, (pattern, valid) in _PATH_RULES.items():
        entries = block.get(key)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, str) and not pattern.match(entry):
                yield source.diagnostic(
                    (*path, key, index),
                    f"invalid {key} path {entry!r}",
                    valid,
                    at_value=True,
                )


def _declared_hint(target: str, declared: list[str]) -> str:
    close = difflib.get_close_matches(target, declared, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    return "declared add-ons: " + (", ".join(declared) or "none")


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Each dependency cycle once, starting at its first add-on in file order."""
    search = _CycleSearch(edges)
    for name in edges:
        search.visit(name, [])
    return search.found


class _CycleSearch:
    # A class, not a recursive closure: the closure held itself, a cycle only the
    # garbage collector frees, and the loader pauses it (yamlnodes.paused_gc), so
    # every cluster's graph stayed until the load ended (~25 MB at 10,000 clusters).

    def __init__(self, edges: dict[str, list[str]]) -> None:
        self.edges = edges
        self.order = {name: i for i, name in enumerate(edges)}
        self.done: set[str] = set()
        self.found: list[list[str]] = []
        self.seen_sets: set[frozenset[str]] = set()

    def visit(self, node: str, stack: list[str]) -> None:
        if node in stack:
            loop = stack[stack.index(node) :]
            start = min(range(len(loop)), key=lambda i: self.order[loop[i]])
            loop = loop[start:] + loop[:start]
            if frozenset(loop) not in self.seen_sets:
                self.seen_sets.add(frozenset(loop))
                self.found.append([*loop, loop[0]])
            return
        if node in self.done:
            return
        stack.append(node)
        for target in self.edges.get(node, []):
            self.visit(target, stack)
        stack.pop()
        self.done.add(node)


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
                    "secrets may only be used in clusters.NAME.addons.ADDON.values (or a "
                    "profile's addons.ADDON.values); use env() for settings that are not secret",
                    at_value=True,
                )


def _inside_values(path: KeyPath) -> bool:
    return (len(path) > 5 and path[0] in ("clusters", "profiles") and path[2] == "addons"
            and path[4] == "values")


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
