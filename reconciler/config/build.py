"""Validated file data → the ``DesiredState`` model (defaults applied, secrets substituted)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.config.profiles import MergedAddon, Profiles, applied_profiles, cluster_addons
from reconciler.config.render import SecretUse
from reconciler.config.semantic import clusters_of, defaults_of
from reconciler.config.source import SourceFile, dotted
from reconciler.config.yamlnodes import KeyPath, mapping_items, position_of
from reconciler.model.desired import (
    AddonSpec,
    ClusterSpec,
    OnFailure,
    SourceLocation,
    UpgradeReadiness,
    default_endpoint,
)
from reconciler.model.secret_template import secret_template
from reconciler.model.versions import is_constraint

__all__ = ["build_clusters", "timeout_seconds"]

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

_EMPTY: Mapping[str, Any] = {}
"""One empty mapping for every spec field that is empty: a 10,000-cluster fleet
has ~400,000 of them (64 bytes each), and nothing writes to a built spec."""


def _shared(found: Mapping[str, Any]) -> Mapping[str, Any]:
    return found or _EMPTY


def _interned(value: Any) -> Any:
    """Names and versions repeat across a fleet (8 templates, a few versions):
    one string each instead of one per add-on."""
    return sys.intern(value) if type(value) is str else value


def timeout_seconds(value: Any) -> float | None:
    """``600`` / ``600.0`` / ``"10m"`` / ``"1h30m"`` / ``"90s"`` → seconds (schema-checked)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"invalid duration {value!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def build_clusters(source: SourceFile, endpoint_override: str | None,
                   profiles: Profiles) -> Iterator[ClusterSpec]:
    defaults = defaults_of(source)
    for name, block in clusters_of(source):
        region = str(block.get("region", defaults.get("region", "")))
        readiness = block.get("upgrade_readiness")
        yield ClusterSpec(
            name=name,
            cluster_id=str(block["cluster_id"]),
            region=region,
            project_id=str(block.get("project_id", defaults.get("project_id", ""))),
            endpoint=endpoint_override
            or str(block.get("endpoint", defaults.get("endpoint", default_endpoint(region)))),
            addons=tuple(_addon_spec(addon, defaults)
                         for addon in cluster_addons(source, name, block, profiles)),
            prune=bool(block.get("prune", defaults.get("prune", False))),
            upgrade_readiness=UpgradeReadiness(str(readiness["target_version"]))
            if isinstance(readiness, dict)
            else None,
            location=_location(source, ("clusters", name)),
            # defaults.labels under the cluster's own: a fleet-wide label, overridable.
            labels=_shared({**defaults.get("labels", {}), **block.get("labels", {})}),
            # As merged: those chosen by a profile's `clusters:`, then the cluster's list.
            profiles=tuple(applied_profiles(source, name, block, profiles)),
        )


def _addon_spec(merged: MergedAddon, defaults: dict[str, Any]) -> AddonSpec:
    addon = merged.block
    home = merged.home
    values, sources, templates = _values(merged)
    flavor = addon.get("flavor")
    version = addon.get("version")
    constraint = version if isinstance(version, str) and is_constraint(version) else None
    return AddonSpec(
        name=_interned(merged.name),
        state=_interned(str(addon.get("state", "present"))),
        version=None if constraint else _interned(version),
        version_constraint=constraint,
        profile_origins=_shared(merged.profile_origins()),
        flavor=None if flavor is None else _interned(str(flavor)),
        values=_shared(values) if isinstance(values, dict) else values,
        secret_sources=_shared(sources),
        secret_templates=_shared(templates),
        sensitive=tuple(str(p) for p in addon.get("sensitive", ())),
        not_sensitive=tuple(str(p) for p in addon.get("not_sensitive", ())),
        precheck_accept=tuple(addon.get("precheck", {}).get("accept", ())),
        ignore_changes=tuple(addon.get("ignore_changes", ())),
        allow_unknown_values=tuple(addon.get("allow_unknown_values", ())),
        protect=bool(addon.get("protect", False)),
        depends_on=tuple(addon.get("depends_on", ())),
        # The schema check has already limited the text to the enum's values.
        on_failure=OnFailure(addon.get("on_failure", defaults.get("on_failure", OnFailure.FAIL))),
        allow_downgrade=bool(addon.get("allow_downgrade", False)),
        timeout_seconds=timeout_seconds(addon.get("timeout", defaults.get("timeout"))),
        location=_location(home.source, home.path),
        value_locations=_shared(_merged_value_locations(merged)),
    )


def _values(merged: MergedAddon) -> tuple[Any, dict[str, tuple[str, ...]], dict[str, str]]:
    """The merged values with real secrets in, and the secret leaves of the layers
    that still show (a leaf a later layer replaced is not a secret any more)."""
    found = _Secrets({}, {})
    home = merged.home
    if len(merged.layers) == 1:
        values = _substitute(home.source.secrets, home.source.token_pattern,
                             home.block.get("values", {}), (), found)
        return values, found.sources, found.templates
    # Placeholder tokens are unique within a run (one pattern for every file), so
    # the layers' files' tables together resolve every leaf of the merged tree.
    secrets: dict[str, SecretUse] = {}
    for layer in merged.layers:
        secrets.update(layer.source.secrets)
    values = _substitute(secrets, home.source.token_pattern, merged.block.get("values", {}), (),
                         found)
    return values, found.sources, found.templates


@dataclass(frozen=True)
class _Secrets:
    sources: dict[str, tuple[str, ...]]
    templates: dict[str, str]


def _substitute(secrets: Mapping[str, SecretUse], tokens: re.Pattern[str], value: Any,
                path: KeyPath, found: _Secrets) -> Any:
    """Put real secret values into leaves holding placeholder tokens; record those leaves.

    Paths are recorded in the engine's spelling (``custom.servers[0]``): a list
    index written ``.0`` could not be told from a map key ``"0"``. Each such
    leaf also gets its template (``Bearer ${T}``) so a saved plan, which holds
    the leaf only as a hash, can rebuild it from the re-read secrets."""
    if isinstance(value, dict):
        return {k: _substitute(secrets, tokens, v, (*path, k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(secrets, tokens, v, (*path, i), found) for i, v in enumerate(value)]
    if isinstance(value, str) and secrets:
        names: list[str] = []

        def real(match: re.Match[str]) -> str:
            use = secrets[match.group(0)]
            names.append(use.name)
            return use.value or ""

        replaced = tokens.sub(real, value)
        if names:
            key = dotted(path)
            found.sources[key] = tuple(dict.fromkeys(names))
            found.templates[key] = secret_template(
                value, tokens, lambda token: secrets[token].name)
        return replaced
    return value


def _location(source: SourceFile, path: KeyPath) -> SourceLocation:
    key, _ = source.nodes.find(path)
    if key is None:
        return SourceLocation(source.path)
    rendered = position_of(key)
    mapped = source.linemap.source_position(rendered.line, rendered.column)
    return SourceLocation(source.path, mapped.line, mapped.column)


def _merged_value_locations(merged: MergedAddon) -> dict[str, SourceLocation]:
    """Each value's position in the layer it came from (a map's: the last layer's)."""
    if len(merged.layers) == 1:
        layer = merged.layers[0]
        return _value_locations(layer.source, layer.path)
    written: dict[str, tuple[int, SourceLocation]] = {}
    for index, layer in enumerate(merged.layers):
        for path, location in _value_locations(layer.source, layer.path).items():
            written[path] = index, location
    found: dict[str, SourceLocation] = {}
    for path, (index, location) in written.items():
        origin = merged.layer_index(path)
        if origin is None or origin == index:
            found[path] = location
    return found


def _value_locations(source: SourceFile, path: KeyPath) -> dict[str, SourceLocation]:
    """The source position of every value node under ``path``, by relative dotted path."""
    _, block = source.nodes.find(path)
    found: dict[str, SourceLocation] = {}
    if block is not None:
        _walk_values(source, block, (), found)
    return found


def _walk_values(source: SourceFile, node: yaml.Node, relative: KeyPath,
                 found: dict[str, SourceLocation]) -> None:
    # A function of the module, not a closure: a recursive closure holds itself,
    # a cycle only the garbage collector frees, and the loader pauses it
    # (yamlnodes.paused_gc): 80,000 of them stayed until a 10,000-cluster load ended.
    if relative:
        rendered = position_of(node)
        mapped = source.linemap.source_position(rendered.line, rendered.column)
        found[dotted(relative)] = SourceLocation(source.path, mapped.line, mapped.column)
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_values(source, item, (*relative, index), found)
    for key, _, value in mapping_items(node):
        _walk_values(source, value, (*relative, key), found)
