"""Full values: every value an install, upgrade or update sends (docs/planning.md, "Full values").

Pure: no I/O, no clock. CCE replaces whatever a write omits by the template
default, so the tool always sends the complete set, a deep merge of four
layers, later layers winning:

1. ``default``: the target version's template defaults — ``input.basic`` →
   ``basic``, ``input.parameters.custom`` → ``custom``, the flavor preset →
   ``flavor`` (the one the user names, else the live instance's, else the
   template's first);
2. ``live``: the live instance's ``spec.values``; on a version change, only
   the leaves the user customised: a live leaf equal to the *current*
   version's default is that version's default, not a choice, and must give
   way to the target version's (else an upgrade would keep sending the old
   ``basic.image_version``);
3. ``desired``: choosing a flavor replaces the whole ``flavor`` map with that
   preset, then the desired ``values`` merge over everything (a leaf a
   profile set is ``profile:NAME``);
4. ``derived``: ``custom.cluster_id``, ``custom.tenant_id`` and
   ``custom.project_id``, where the template's ``custom`` has those keys.

Maps merge key by key; lists and scalars replace. An empty map in a later
layer means nothing (it is the same as an absent key). ``ignore_changes``
paths are then taken back from live. Every leaf of the result has a
provenance: the layer that set it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.engine import paths
from reconciler.engine.normalise import normalise
from reconciler.model import valuepaths
from reconciler.model.desired import AddonSpec
from reconciler.model.json import JSON
from reconciler.model.live import Cluster, TemplateVersion

__all__ = [
    "DEFAULT",
    "DERIVED",
    "DESIRED",
    "LIVE",
    "PROFILE_PREFIX",
    "Defaults",
    "FullValues",
    "customised_live",
    "defaults_for",
    "full_values",
    "live_flavor",
    "merge_layers",
    "own_lists",
    "template_defaults",
]

DEFAULT = "default"
LIVE = "live"
DESIRED = "desired"
DERIVED = "derived"
PROFILE_PREFIX = "profile:"
"""``profile:NAME``: a ``desired`` leaf that came from the profile NAME."""


@dataclass(frozen=True)
class FullValues:
    values: dict[str, JSON]
    provenance: dict[str, str] = field(default_factory=dict)
    """Leaf path → ``default`` | ``live`` | ``desired`` | ``profile:NAME`` | ``derived``."""
    flavor: str | None = None
    """Name of the flavor preset used as the ``flavor`` base (None: the
    template version has no presets)."""


@dataclass(frozen=True)
class Defaults:
    """Layer 1 of one add-on: the target version's defaults with the flavor
    preset the merge starts from. ``values`` is also the schema that gives
    each value its expected type. It shares the template's maps: read only."""

    version: TemplateVersion
    presets: Mapping[str, Mapping[str, JSON]]
    flavor: str | None
    values: dict[str, JSON]


def defaults_for(version: TemplateVersion, live: Mapping[str, JSON] | None,
                 desired: AddonSpec) -> Defaults:
    """The preset is the one named in the file, else the live one, else the first."""
    presets = version.flavors
    flavor = next((c for c in (desired.flavor, live_flavor(live))
                   if c is not None and c in presets), next(iter(presets), None))
    key = (id(version), flavor)
    seen = _DEFAULTS.get(key)
    if seen is not None and seen.version is version:
        return seen
    values: dict[str, JSON] = {}
    if version.basic:
        values["basic"] = version.basic
    if version.custom:
        values["custom"] = version.custom
    if flavor is not None:
        values["flavor"] = presets[flavor]
    found = Defaults(version=version, presets=presets, flavor=flavor, values=values)
    if len(_DEFAULTS) > 10_000:
        _DEFAULTS.clear()
    _DEFAULTS[key] = found  # holds the version: its id is not reused while cached
    return found


_DEFAULTS: dict[tuple[int, str | None], Defaults] = {}
"""Layer 1 per (template version, preset): thousands of clusters run the same
few dozen, and every add-on of every plan asks (read only, as documented)."""


def template_defaults(version: TemplateVersion, flavor: str | None) -> dict[str, JSON]:
    """Layer 1 with the named (or first) flavor preset, as a fresh tree."""
    named = AddonSpec(name="", flavor=flavor)
    return dict(paths.copy_json(defaults_for(version, None, named).values))


def live_flavor(live: Mapping[str, JSON] | None) -> str | None:
    """The preset name recorded in the live ``flavor.name`` (``2500`` → ``"2500"``)."""
    if not live:
        return None
    flavor = live.get("flavor")
    if isinstance(flavor, Mapping) and flavor.get("name") is not None:
        return str(flavor["name"])
    return None


def full_values(template_version: TemplateVersion, live: Mapping[str, JSON] | None,
                desired: AddonSpec, cluster: Cluster, project_id: str,
                live_version: TemplateVersion | None = None) -> FullValues:
    """The full values to send for ``desired`` at ``template_version``;
    ``live_version`` is the template version the instance runs now. Pure."""
    defaults = defaults_for(template_version, live, desired)
    return merge_layers(defaults, live, desired, normalise(desired.values, defaults.values),
                        cluster, project_id, live_version=live_version)


def customised_live(live: Mapping[str, JSON] | None, live_version: TemplateVersion | None,
                    target: TemplateVersion, desired: AddonSpec) -> Mapping[str, JSON] | None:
    """The live layer of a merge: all of ``live`` when the version stays; on a
    version change, without the leaves that equal ``live_version``'s defaults
    (``ignore_changes`` paths are still restored from the whole live tree)."""
    if live is None or live_version is None or live_version.version == target.version:
        return live
    old = defaults_for(live_version, live, AddonSpec(name=desired.name))
    return _without_defaults(live, normalise(old.values))


def _without_defaults(live: Mapping[str, JSON], old: Mapping[str, JSON]) -> dict[str, JSON]:
    kept: dict[str, JSON] = {}
    for key, value in live.items():
        if key not in old:
            kept[key] = value
        elif paths.is_map(value) and paths.is_map(old[key]):
            inner = _without_defaults(value, old[key])
            if inner:
                kept[key] = inner
        elif normalise({key: value}, old) != {key: old[key]}:
            kept[key] = value
    return kept


def merge_layers(defaults: Defaults, live: Mapping[str, JSON] | None, desired: AddonSpec,
                 desired_values: Mapping[str, JSON], cluster: Cluster,
                 project_id: str, live_version: TemplateVersion | None = None,
                 detach: bool = True) -> FullValues:
    """The four layers merged. ``desired_values`` are ``desired.values``
    normalised against the defaults (``"50"`` → ``50`` where the default is a
    number); the planner passes the copy it already type-checked. With
    ``detach=False`` the result's lists may still be the layers' own (read
    only until :func:`own_lists`): the planner drops most results unread."""
    result: dict[str, JSON] = {}
    origin: dict[str, str] = {}
    _merge(result, defaults.values, origin, DEFAULT, "")
    customised = customised_live(live, live_version, defaults.version, desired)
    if customised:
        _merge(result, customised, origin, LIVE, "")
    if desired.flavor is not None and desired.flavor in defaults.presets:
        _forget(origin, "flavor")
        result["flavor"] = {}
        # The preset is the `flavor:` key's doing: a profile's, if a profile set it.
        chosen_by = desired.profile_origins.get("flavor")
        preset_source = DESIRED if chosen_by is None else sys.intern(PROFILE_PREFIX + chosen_by)
        _merge(result["flavor"], defaults.presets[desired.flavor], origin, preset_source, "flavor")
    _merge(result, desired_values, origin, DESIRED, "")
    if desired.profile_origins:
        _name_profiles(origin, desired.profile_origins)
    _derive(result, defaults.version, cluster, project_id, origin)
    restore = live is not None and bool(desired.ignore_changes)
    if detach or restore:
        _detach(result)  # before the restore: it writes through lists
    if restore:
        assert live is not None
        _restore_ignored(result, live, desired.ignore_changes, origin)
    return FullValues(values=result, provenance=origin, flavor=defaults.flavor)


def _name_profiles(origin: dict[str, str], profiles: Mapping[str, str]) -> None:
    """``desired`` → ``profile:NAME`` for the leaves a profile set (and the cluster's
    own ``addons`` did not override): the user sees which file to edit."""
    for path, source in origin.items():
        if source == DESIRED:
            name = profiles.get(f"values.{path}")
            if name is not None:
                origin[path] = sys.intern(f"{PROFILE_PREFIX}{name}")


def _merge(dst: dict[str, JSON], src: Mapping[str, JSON], origin: dict[str, str],
           source: str, prefix: str) -> None:
    """Merge ``src`` into ``dst``. Maps in ``dst`` are always its own (fresh)
    dicts, so merging never writes into a template or live tree; lists and
    scalars are shared until :func:`_detach` copies the lists."""
    children = _CHILD_PATHS.get(prefix)
    if children is None:
        if len(_CHILD_PATHS) > 50_000:
            _CHILD_PATHS.clear()
        children = _CHILD_PATHS[prefix] = {}
    for key, value in src.items():
        # Only str keys are cached: 1 and True are one dict key but two paths.
        path = children.get(key) if type(key) is str else None
        if path is None:
            # Interned: every plan change holds a provenance map of these paths,
            # and 80,000 add-ons spell the same few hundred.
            path = sys.intern(f"{prefix}.{key}") if prefix else key
            if type(key) is str:
                children[key] = path
        kind = type(value)
        # Exact types first (paths.is_map inlined: this loop runs per leaf of
        # every layer of every add-on, the planner's hottest).
        if kind is not dict and (kind in _LEAVES or not isinstance(value, Mapping)):
            existing = dst.get(key)
            if type(existing) is dict and existing:
                _forget(origin, path)
            dst[key] = value
            origin[path] = source
            continue
        existing = dst.get(key)
        if type(existing) is dict:
            if not existing:
                origin.pop(path, None)  # was an empty-map leaf
            _merge(existing, value, origin, source, path)
        elif not value and existing is not None:
            continue  # an empty map is the same as an absent key
        else:
            if existing is not None:
                origin.pop(path, None)  # a scalar or list becomes a map
            fresh: dict[str, JSON] = {}
            dst[key] = fresh
            _merge(fresh, value, origin, source, path)
            if not value:
                origin[path] = source


_CHILD_PATHS: dict[str, dict[str, str]] = {}
"""Parent path → key → the child's interned path: looked up, not formatted and
interned again for every leaf of every layer (the same few hundred paths)."""

_LEAVES = frozenset({str, int, float, bool, type(None), list, tuple})
"""Never maps: what ``_merge`` sets without a look inside."""


def own_lists(tree: dict[str, JSON]) -> dict[str, JSON]:
    """``tree`` (a ``merge_layers(detach=False)`` result) with its own lists."""
    _detach(tree)
    return tree


def _detach(tree: dict[str, JSON]) -> None:
    """Give the result its own lists (its maps are already its own)."""
    for key, value in tree.items():
        kind = type(value)
        if kind is dict:
            _detach(value)
        elif kind is list or kind is tuple:
            tree[key] = paths.copy_json(value)


def _record(tree: JSON, origin: dict[str, str], source: str, prefix: str) -> None:
    for path, _ in valuepaths.leaves(tree, prefix, into_lists=False):
        origin[path] = source


def _forget(origin: dict[str, str], prefix: str) -> None:
    """Drop the provenance of a subtree that is being replaced (rare: a map
    overwritten by a scalar or list, a flavor preset swapped)."""
    for path in [p for p in origin if valuepaths.covers(prefix, p)]:
        del origin[path]


def _derive(result: dict[str, JSON], version: TemplateVersion, cluster: Cluster,
            project_id: str, origin: dict[str, str]) -> None:
    known = {"cluster_id": cluster.id, "tenant_id": project_id, "project_id": project_id}
    template_custom = version.custom
    derived = {k: v for k, v in known.items() if k in template_custom and v}
    if not derived:
        return
    custom = result.get("custom")
    if not isinstance(custom, dict):
        _forget(origin, "custom")
        custom = result["custom"] = {}
    for key, value in derived.items():
        custom[key] = value
        origin[f"custom.{key}"] = DERIVED


def _restore_ignored(result: dict[str, JSON], live: Mapping[str, JSON],
                     ignored: tuple[str, ...], origin: dict[str, str]) -> None:
    """``ignore_changes`` paths keep whatever live has, wherever it came from."""
    for pattern in ignored:
        # nothing live to keep (no match): the merged value stands
        for segments in paths.expand(live, pattern):
            _restore_one(result, live, segments, origin)


def _restore_one(result: dict[str, JSON], live: Mapping[str, JSON],
                 segments: list[valuepaths.Segment], origin: dict[str, str]) -> None:
    first_index = next((i for i, s in enumerate(segments) if isinstance(s, int)), None)
    if first_index is not None and not _fits(result, segments):
        # lists are replaced whole: keep the whole live list the path runs through
        segments = segments[:first_index]
    value = paths.copy_json(paths.get(live, segments))
    paths.put(result, segments, value)
    path = valuepaths.format_path(segments)
    for depth in range(1, len(segments)):
        origin.pop(valuepaths.format_path(segments[:depth]), None)  # was a leaf, now a map
    _forget(origin, path)
    _record(value, origin, LIVE, path)


def _fits(tree: JSON, segments: list[valuepaths.Segment]) -> bool:
    """True if every list index on the way to ``segments`` exists in ``tree``."""
    node = tree
    for segment in segments[:-1]:
        if isinstance(segment, int):
            if not isinstance(node, list) or segment >= len(node):
                return False
        elif not isinstance(node, Mapping) or segment not in node:
            return False
        node = node[segment]
    last = segments[-1]
    return not isinstance(last, int) or (isinstance(node, list) and last < len(node))
