"""Profiles: named add-on sets that a cluster merges in before its own ``addons``.

``clusters.NAME.profiles: [base, prod]`` gives each add-on up to three
layers: ``base``'s block, ``prod``'s, then the cluster's own, merged in that
order (maps key by key; scalars and lists replace). Each merged leaf
remembers its layer, so that a value keeps the file and line it was written
at, a ``secret()`` leaf is read from the file that wrote it, and provenance
can name the profile.

A profile may also choose its clusters: ``profiles.NAME.clusters: ["env=prod",
"edge-*", "demo-legacy"]`` (names, globs or label selectors) applies it to
every cluster that matches. A cluster's profiles are then, in this order:

1. the profiles whose ``clusters:`` match it, in the order the ``profiles:``
   map declares them (across files: the order the files are read);
2. its own ``profiles:`` list, in its order. A profile both chosen by a
   selector and listed counts once, at its list position: the list is the
   cluster's explicit word on what overrides what;
3. its own ``addons`` last.

A selector sees every cluster of the files with its labels (``defaults.labels``
under the cluster's own), before ``--cluster`` narrows the run: choosing a
cluster to plan must not change what it is.

Profiles are shared by all the files of a run (a fleet keeps them in one
file and its clusters in others); a name must be declared once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.patterns import pattern_problems, undeclared_name
from reconciler.config.source import SourceFile, dotted
from reconciler.config.yamlnodes import KeyPath
from reconciler.kit.selectors import ClusterPattern, SelectorError, parse_pattern
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.valuepaths import ancestry, covers

__all__ = [
    "Layer",
    "MergedAddon",
    "Profiles",
    "applied_profiles",
    "cluster_addons",
    "cluster_labels",
    "profile_diagnostics",
    "profiles_of",
]

Profiles = Mapping[str, tuple[SourceFile, dict[str, Any]]]
"""Profile name → the file declaring it and its block (the first declaration)."""


@dataclass(frozen=True)
class Layer:
    """One add-on block as written: in a profile or in the cluster itself."""

    source: SourceFile
    path: KeyPath
    """Of the add-on's block (``clusters.C.addons.A`` or ``profiles.P.addons.A``)."""
    block: dict[str, Any]
    profile: str | None
    """None: the cluster's own ``addons``."""


@dataclass
class MergedAddon:
    name: str
    layers: list[Layer]
    block: dict[str, Any]
    origins: dict[str, int] = field(default_factory=dict)
    """Dotted path of every leaf (``version``, ``values.custom.servers``,
    ``values.custom.servers[0]``, an empty map) → index of the layer that set
    it. Empty when the cluster's own block is the only layer."""

    @property
    def home(self) -> Layer:
        """The layer the add-on itself is reported at: the cluster's own block
        if it has one, else the last profile naming the add-on."""
        return self.layers[-1]

    def layer_index(self, path: str) -> int | None:
        """The layer that set the leaf at ``path`` or the leaf above it; None for
        a map (several layers may have added keys to it)."""
        if len(self.layers) == 1:
            return 0
        for enclosing in ancestry(path):
            found = self.origins.get(enclosing)
            if found is not None:
                return found
        return None

    def layer_of(self, path: str) -> Layer:
        index = self.layer_index(path)
        return self.home if index is None else self.layers[index]

    def profile_origins(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for path, index in self.origins.items():
            profile = self.layers[index].profile
            if profile is not None:
                found[path] = profile
        return found


def profiles_of(sources: Sequence[SourceFile]) -> dict[str, tuple[SourceFile, dict[str, Any]]]:
    found: dict[str, tuple[SourceFile, dict[str, Any]]] = {}
    for source, name, block in _entries(sources, "profiles"):
        found.setdefault(name, (source, block))
    return found


def profile_diagnostics(sources: Sequence[SourceFile], profiles: Profiles, *,
                        unknown: bool = True) -> Iterator[Diagnostic]:
    """Profiles declared twice, and (``unknown``) ``clusters.NAME.profiles`` naming none."""
    for source, name, _ in _entries(sources, "profiles"):
        first, _block = profiles[name]
        if first is not source:
            where = first.diagnostic(("profiles", name), "").location()
            yield source.diagnostic(
                ("profiles", name), f"profile `{name}` is declared twice",
                f"first declared at {where}; profile names must be unique across all files")
    clusters = {name for _, name, _ in _entries(sources, "clusters")}
    for source, name, block in _entries(sources, "profiles"):
        chooser = block.get("clusters")
        for position, text in enumerate(chooser if isinstance(chooser, list) else ()):
            if not isinstance(text, str):
                continue  # the schema said so
            path = ("profiles", name, "clusters", position)
            pattern, problems = pattern_problems(source, path, text)
            yield from problems
            if pattern is not None and unknown:
                # Only when every file was read: the cluster may be in the unreadable one.
                yield from undeclared_name(source, path, f"profile `{name}`", pattern, clusters)
    if not unknown:
        return
    known = ", ".join(profiles) or "none (add a top-level `profiles:` block)"
    for source, cluster, block in _entries(sources, "clusters"):
        names = block.get("profiles")
        if not isinstance(names, list):
            continue
        for index, name in enumerate(names):
            if isinstance(name, str) and name not in profiles:
                yield source.diagnostic(
                    ("clusters", cluster, "profiles", index),
                    f"cluster `{cluster}` uses profile `{name}`, which is not declared",
                    f"declared profiles: {known}", at_value=True)


def cluster_addons(source: SourceFile, cluster: str, block: dict[str, Any],
                   profiles: Profiles) -> list[MergedAddon]:
    """The cluster's add-ons with its profiles merged in (``applied_profiles``'
    order, then the cluster's own), in order of first appearance."""
    layers: dict[str, list[Layer]] = {}
    for profile in applied_profiles(source, cluster, block, profiles):
        profile_source, profile_block = profiles[profile]
        for addon, addon_block in _addon_blocks(profile_block):
            layers.setdefault(addon, []).append(Layer(
                profile_source, ("profiles", profile, "addons", addon), addon_block, profile))
    for addon, addon_block in _addon_blocks(block):
        layers.setdefault(addon, []).append(
            Layer(source, ("clusters", cluster, "addons", addon), addon_block, None))
    return [_merged(addon, found) for addon, found in layers.items()]


def applied_profiles(source: SourceFile, cluster: str, block: dict[str, Any],
                     profiles: Profiles) -> list[str]:
    """The profiles the cluster merges, in merge order (see the module's doc):
    those whose ``clusters:`` match it, in declaration order, then its own list."""
    names = block.get("profiles")
    listed = [name for name in (names if isinstance(names, list) else ())
              if isinstance(name, str) and name in profiles]  # else: profile_diagnostics
    labels = cluster_labels(source, block)
    chosen = [name for name, (_, profile) in profiles.items()
              if name not in listed and _chooses(profile, cluster, labels)]
    return chosen + list(dict.fromkeys(listed))


def cluster_labels(source: SourceFile, block: dict[str, Any]) -> dict[str, str]:
    """The cluster's labels: ``defaults.labels`` of its file under its own."""
    data = source.data if isinstance(source.data, dict) else {}
    defaults = data.get("defaults")
    found: dict[str, str] = {}
    for labels in (defaults.get("labels") if isinstance(defaults, dict) else None,
                   block.get("labels")):
        if isinstance(labels, dict):
            found.update((str(k), v) for k, v in labels.items() if isinstance(v, str))
    return found


def _chooses(profile: dict[str, Any], cluster: str, labels: dict[str, str]) -> bool:
    chooser = profile.get("clusters")
    if not isinstance(chooser, list):
        return False
    for text in chooser:
        pattern = _pattern(text) if isinstance(text, str) else None
        if pattern is not None and pattern.matches(cluster, labels):
            return True
    return False


@functools.lru_cache(maxsize=1024)
def _pattern(text: str) -> ClusterPattern | None:
    """Parsed once per run, not once per cluster (a fleet has thousands); None
    if it does not parse (profile_diagnostics reports it)."""
    try:
        return parse_pattern(text)
    except SelectorError:
        return None


def _merged(name: str, layers: list[Layer]) -> MergedAddon:
    if len(layers) == 1 and layers[0].profile is None:
        return MergedAddon(name, layers, layers[0].block)  # the common case, kept cheap
    merged = MergedAddon(name, layers, {})
    for index, layer in enumerate(layers):
        _merge(merged.block, layer.block, merged.origins, index, ())
    return merged


def _merge(dst: dict[str, Any], src: Mapping[str, Any], origins: dict[str, int], layer: int,
           prefix: KeyPath) -> None:
    """``src`` over ``dst``, as the engine merges values: maps key by key, an empty
    map counts as absent, scalars and lists replace. ``dst``'s maps are its own."""
    for key, value in src.items():
        path = (*prefix, key)
        existing = dst.get(key)
        if isinstance(value, dict) and value:
            if not isinstance(existing, dict):
                _forget(origins, dotted(path))
                existing = dst[key] = {}
            elif not existing:
                origins.pop(dotted(path), None)  # was an empty-map leaf
            _merge(existing, value, origins, layer, path)
        elif isinstance(value, dict):
            if key not in dst:
                dst[key] = {}
                origins[dotted(path)] = layer
        else:
            _forget(origins, dotted(path))
            dst[key] = value
            _record(origins, path, value, layer)


def _record(origins: dict[str, int], path: KeyPath, value: Any, layer: int) -> None:
    origins[dotted(path)] = layer
    if isinstance(value, list):
        for index, item in enumerate(value):
            _record(origins, (*path, index), item, layer)
    elif isinstance(value, dict):
        for key, item in value.items():
            _record(origins, (*path, key), item, layer)


def _forget(origins: dict[str, int], path: str) -> None:
    for known in [p for p in origins if covers(path, p)]:
        del origins[known]


def _entries(sources: Sequence[SourceFile], key: str
             ) -> Iterator[tuple[SourceFile, str, dict[str, Any]]]:
    """``(file, name, block)`` of every map entry under the top-level ``key``
    (``profiles`` or ``clusters``) of every file; malformed blocks are the
    schema check's to report."""
    for source in sources:
        data = source.data
        block = data.get(key) if isinstance(data, dict) else None
        if isinstance(block, dict):
            for name, entry in block.items():
                if isinstance(entry, dict):
                    yield source, name, entry


def _addon_blocks(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    addons = block.get("addons")
    if isinstance(addons, dict):
        for name, addon in addons.items():
            if isinstance(addon, dict):
                yield name, addon
