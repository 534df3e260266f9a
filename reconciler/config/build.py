"""Validated file data → the ``DesiredState`` model (defaults applied, secrets substituted)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.config.semantic import addons_of, clusters_of, defaults_of
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

__all__ = ["build_clusters", "timeout_seconds"]

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


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


def build_clusters(source: SourceFile, endpoint_override: str | None) -> Iterator[ClusterSpec]:
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
            addons=tuple(_addons(source, name, block, defaults)),
            prune=bool(block.get("prune", defaults.get("prune", False))),
            upgrade_readiness=UpgradeReadiness(str(readiness["target_version"]))
            if isinstance(readiness, dict)
            else None,
            location=_location(source, ("clusters", name)),
        )


def _addons(
    source: SourceFile, cluster: str, block: dict[str, Any], defaults: dict[str, Any]
) -> Iterator[AddonSpec]:
    for name, addon in addons_of(block).items():
        sources: dict[str, tuple[str, ...]] = {}
        templates: dict[str, str] = {}
        values = _substitute(source, addon.get("values", {}), (), _Secrets(sources, templates))
        flavor = addon.get("flavor")
        yield AddonSpec(
            name=name,
            state=str(addon.get("state", "present")),
            version=addon.get("version"),
            flavor=None if flavor is None else str(flavor),
            values=values,
            secret_sources=sources,
            secret_templates=templates,
            sensitive=tuple(str(p) for p in addon.get("sensitive", ())),
            not_sensitive=tuple(str(p) for p in addon.get("not_sensitive", ())),
            precheck_accept=tuple(addon.get("precheck", {}).get("accept", ())),
            ignore_changes=tuple(addon.get("ignore_changes", ())),
            protect=bool(addon.get("protect", False)),
            depends_on=tuple(addon.get("depends_on", ())),
            # The schema check has already limited the text to the enum's values.
            on_failure=OnFailure(
                addon.get("on_failure", defaults.get("on_failure", OnFailure.FAIL))
            ),
            allow_downgrade=bool(addon.get("allow_downgrade", False)),
            timeout_seconds=timeout_seconds(addon.get("timeout", defaults.get("timeout"))),
            location=_location(source, ("clusters", cluster, "addons", name)),
            value_locations=_value_locations(source, ("clusters", cluster, "addons", name)),
        )


@dataclass(frozen=True)
class _Secrets:
    sources: dict[str, tuple[str, ...]]
    templates: dict[str, str]


def _substitute(source: SourceFile, value: Any, path: KeyPath, found: _Secrets) -> Any:
    """Put real secret values into leaves holding placeholder tokens; record those leaves.

    Paths are recorded in the engine's spelling (``custom.servers[0]``): a list
    index written ``.0`` could not be told from a map key ``"0"``. Each such
    leaf also gets its template (``Bearer ${T}``) so a saved plan, which holds
    the leaf only as a hash, can rebuild it from the re-read secrets."""
    if isinstance(value, dict):
        return {k: _substitute(source, v, (*path, k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(source, v, (*path, i), found) for i, v in enumerate(value)]
    if isinstance(value, str) and source.secrets:
        names: list[str] = []

        def real(match: re.Match[str]) -> str:
            use = source.secrets[match.group(0)]
            names.append(use.name)
            return use.value or ""

        replaced = source.token_pattern.sub(real, value)
        if names:
            key = dotted(path)
            found.sources[key] = tuple(dict.fromkeys(names))
            found.templates[key] = secret_template(
                value, source.token_pattern, lambda token: source.secrets[token].name)
        return replaced
    return value


def _location(source: SourceFile, path: KeyPath) -> SourceLocation:
    key, _ = source.nodes.find(path)
    if key is None:
        return SourceLocation(source.path)
    rendered = position_of(key)
    mapped = source.linemap.source_position(rendered.line, rendered.column)
    return SourceLocation(source.path, mapped.line, mapped.column)


def _value_locations(source: SourceFile, path: KeyPath) -> dict[str, SourceLocation]:
    """The source position of every value node under ``path``, by relative dotted path."""
    _, block = source.nodes.find(path)
    found: dict[str, SourceLocation] = {}

    def walk(node: yaml.Node, relative: KeyPath) -> None:
        if relative:
            rendered = position_of(node)
            mapped = source.linemap.source_position(rendered.line, rendered.column)
            found[dotted(relative)] = SourceLocation(source.path, mapped.line, mapped.column)
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*relative, index))
        for key, _, value in mapping_items(node):
            walk(value, (*relative, key))

    if block is not None:
        walk(block, ())
    return found
