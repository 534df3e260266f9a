"""The live fleet → the desired-state document ``reconciler init`` writes. Pure.

Each add-on of each cluster is declared by what sets it apart from its
template: the version it runs, its flavor preset when not the template's
first, and only the values that differ from that version's defaults (the
derived ids left out: the planner fills them in). A value at a sensitive path
(``model.sensitive``'s one rule: ``password``, ``token``, … holding a
non-empty string) is never carried: it becomes a :class:`Secret`, a variable
the operator sets, and is never shared into a profile.

What clusters run alike is factored into profiles that choose their clusters
by selector, so that a fleet-wide change is one line:

1. ``base`` (every cluster of the file): for each add-on every cluster runs,
   the version most of them run, or ``latest`` where more run the newest
   stable version supporting them (the planner's own resolution) than any one
   pin, and every flavor or value more than half of them share;
2. one profile per label (``env=prod``, biggest group first) for what most of
   the group runs and the earlier profiles do not give at least two of them;
3. each cluster's own ``addons`` for the rest, and for whatever a profile
   gives it that it does not run (the cluster's own block wins the merge).

A profile declares only add-ons all of its clusters run (it installs them on
each), and a path is shared only where every member has a value to be given
back, so the merge (profiles in declared order, then the cluster's own) is,
per cluster, exactly what runs: the file plans to adoptions only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.engine.checks import newest_supported_stable
from reconciler.engine.normalise import normalise
from reconciler.engine.valuekeys import unknown_keys
from reconciler.engine.values import defaults_for, live_flavor
from reconciler.kit.selectors import label_problem
from reconciler.model.desired import AddonSpec
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, AddonTemplate, Cluster, LiveCluster
from reconciler.model.sensitive import NO_RULES, leaf_is_sensitive
from reconciler.model.valuepaths import covers

__all__ = ["BASE_PROFILE", "AddonBlock", "ClusterEntry", "Onboarded", "Profile", "Secret",
           "onboard"]

BASE_PROFILE = "base"

_DERIVED = ("cluster_id", "tenant_id", "project_id")
"""``custom`` keys the planner derives (engine/values.py): never written."""

Path = tuple[str | int, ...]
_VERSION: Path = ("#version",)
_FLAVOR: Path = ("#flavor",)


@dataclass(frozen=True)
class Secret:
    """A sensitive leaf, written as ``secret('variable')``; its value is not kept."""

    variable: str


@dataclass
class AddonBlock:
    """One add-on's block in a profile or a cluster's ``addons``."""

    version: str | None = None
    flavor: str | None = None
    values: dict[str, JSON | Secret] = field(default_factory=dict)
    cce_installed: bool = False
    """CCE installs this add-on with the cluster and its values are still CCE's."""
    allow_unknown_values: tuple[str, ...] = ()
    """Paths of ``values`` the template does not know but the live add-on holds
    (CCE accepted them): plan's value-key check must let them through."""


@dataclass
class Profile:
    name: str
    clusters: tuple[str, ...]
    """Names, globs or selectors, as a profile's ``clusters:`` key takes them."""
    addons: dict[str, AddonBlock]
    label: tuple[str, str] | None = None
    """The ``(key, value)`` a label profile chooses by; None for the base profile."""


@dataclass
class ClusterEntry:
    name: str
    cluster_id: str
    labels: Mapping[str, str]
    kubernetes_version: str
    addons: dict[str, AddonBlock]


@dataclass
class Onboarded:
    profiles: list[Profile]
    clusters: list[ClusterEntry]
    secrets: tuple[str, ...]
    """The variables the file's ``secret()`` placeholders read, in order."""


@dataclass
class _Decl:
    """One live add-on: its leaves (version, flavor, differing values) and what
    it runs at any path (a profile may set a path this add-on has at its default)."""

    leaves: dict[Path, JSON]
    latest: bool
    """The version it runs is the newest stable one supporting its cluster."""
    flavor: str | None
    """The preset it runs (None: the template has none)."""
    live: Mapping[str, JSON]
    """Its values, normalised against the defaults."""
    defaults: Mapping[str, JSON]
    secrets: dict[Path, JSON | Secret]
    unknown: frozenset[str]
    """Dotted paths of its values the template's defaults do not know."""
    cce_installed: bool

    def actual(self, path: Path) -> object:
        """What the add-on runs at ``path``; ``_MISSING`` where it has nothing."""
        if path == _VERSION:
            return self.leaves[_VERSION]
        if path == _FLAVOR:
            return self.flavor if self.flavor is not None else _MISSING
        return _lookup(self.live, path[1:])

    def default(self, path: Path) -> object:
        """What a file that does not name ``path`` gets there (before any profile)."""
        if path == _VERSION:
            return _MISSING  # not named: the live version is kept, but unpinned
        if path == _FLAVOR:
            return self.flavor if _FLAVOR not in self.leaves else _MISSING
        return _lookup(self.defaults, path[1:])

    def satisfied(self, path: Path, given: object) -> bool:
        if path == _VERSION and given == "latest":
            return self.latest
        return _canon(given) == _canon(self.actual(path))


_MISSING = object()


def _lookup(tree: Mapping[str, JSON], path: Path) -> object:
    node: object = tree
    for segment in path:
        if not isinstance(node, Mapping) or segment not in node:
            return _MISSING
        node = node[segment]
    return node


def onboard(clusters: Sequence[LiveCluster], templates: Mapping[str, AddonTemplate], *,
            project_id: str, base_clusters: Sequence[str] = ("*",)) -> Onboarded:
    """The document for ``clusters`` (in the order given); ``base_clusters``
    chooses the base profile's clusters (the ``--cluster`` patterns, else all)."""
    names = _unique_names(clusters)
    used: set[str] = set()
    decls: dict[str, dict[str, _Decl]] = {}
    for name, live in zip(names, clusters, strict=True):
        decls[name] = {i.template_name: _decl(name, live.cluster, i, templates, project_id, used)
                       for i in sorted(live.instances, key=lambda i: i.template_name)}
    labels = {n: _labels(live.cluster) for n, live in zip(names, clusters, strict=True)}
    given: dict[str, dict[str, dict[Path, JSON]]] = {n: {} for n in names}
    profiles: list[Profile] = []
    if len(names) >= 2:
        groups: list[tuple[str, tuple[str, ...], list[str], tuple[str, str] | None]] = [
            (BASE_PROFILE, tuple(base_clusters), names, None)]
        groups += _label_groups(names, labels)
        taken: set[str] = set()
        for name, selector, members, label in groups:
            addons = _factor(members, decls, given, templates, base=label is None)
            if addons:
                profiles.append(Profile(_profile_name(name, taken), selector, addons, label))
    entries = [_entry(n, live.cluster, labels[n], decls[n], given[n])
               for n, live in zip(names, clusters, strict=True)]
    return Onboarded(profiles=profiles, clusters=entries, secrets=tuple(sorted(used)))


def _labels(cluster: Cluster) -> dict[str, str]:
    """The cluster's labels a file can carry: CCE also keeps labels of its own in
    the metadata (feature flags whose values are no label values), left out."""
    return {k: v for k, v in sorted(cluster.labels.items()) if label_problem(k, v) is None}


def _unique_names(clusters: Sequence[LiveCluster]) -> list[str]:
    """Cluster names as file keys: CCE names are unique per project, but a key
    must match the schema's pattern; a clash gets the id's start appended."""
    seen: set[str] = set()
    out: list[str] = []
    for live in clusters:
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", live.cluster.name).lstrip("_.-") or "cluster"
        if name in seen:
            name = f"{name}-{live.cluster.id[:8]}"
        seen.add(name)
        out.append(name)
    return out


def _newest(template: AddonTemplate, cluster: Cluster) -> str | None:
    """The newest stable version supporting ``cluster``, per kind of cluster
    (a fleet has a few Kubernetes versions, not thousands)."""
    key = (id(template), cluster.type, cluster.category, cluster.version)
    found = _NEWEST.get(key)
    if found is None or found[0] is not template:
        newest = newest_supported_stable(template, cluster)
        found = _NEWEST[key] = (template, newest.version if newest else None)
        if len(_NEWEST) > 10_000:
            _NEWEST.clear()
    return found[1]


_NEWEST: dict[tuple[int, str, str, str], tuple[AddonTemplate, str | None]] = {}


def _diff(live: Mapping[str, JSON], default: JSON, prefix: Path, out: dict[Path, JSON]) -> None:
    """Leaves of ``live`` that ``default`` lacks or holds otherwise; lists are
    leaves (a merge replaces them whole). An empty map says nothing in a merge,
    so it is not written."""
    defaults = default if isinstance(default, Mapping) else {}
    for key, value in live.items():
        path = (*prefix, key)
        theirs = defaults.get(key, _MISSING)
        if isinstance(value, Mapping):
            if value:
                _diff(value, theirs, path, out)
        elif theirs is _MISSING or not _same(value, theirs):
            out[path] = value


def _same(one: object, other: object) -> bool:
    if type(one) is type(other) and type(one) in _PLAIN:
        return one == other  # the usual leaf: no text built
    return _canon(one) == _canon(other)


_PLAIN = frozenset({str, int, bool, type(None)})


def _canon(value: object) -> str:
    """Equality that tells 1 from 1.0 and True (a changed type is a changed value)."""
    kind = type(value)
    if kind is str:
        return "s" + value  # type: ignore[operator]
    if kind in _SCALARS:
        return f"{kind.__name__}:{value!r}"
    return "j" + json.dumps(value, sort_keys=True, default=str)


_SCALARS = frozenset({int, float, bool, type(None)})


def _protect(value: JSON, path: Path, cluster: str, addon: str,
             used: set[str]) -> JSON | Secret:
    """``value`` with every sensitive string in it replaced by a :class:`Secret`
    (the same object when there is none)."""
    if isinstance(value, list):
        items = [_protect(v, (*path, i), cluster, addon, used) for i, v in enumerate(value)]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
    if isinstance(value, Mapping):
        inner = {k: _protect(v, (*path, k), cluster, addon, used) for k, v in value.items()}
        changed = any(inner[k] is not value[k] for k in value)
        return inner if changed else value
    text = _dotted(path)
    if leaf_is_sensitive(path, text, value, NO_RULES):
        return Secret(_variable(cluster, addon, text, used))
    return value


def _dotted(path: Path) -> str:
    out = ""
    for segment in path:
        out += f"[{segment}]" if isinstance(segment, int) else (f".{segment}" if out else segment)
    return out


def _variable(cluster: str, addon: str, path: str, used: set[str]) -> str:
    """An environment variable name per leaf: CLUSTER_ADDON_PATH, upper case."""
    base = re.sub(r"[^A-Z0-9]+", "_", f"{cluster}_{addon}_{path}".upper()).strip("_")
    if not base or base[0].isdigit():
        base = f"S_{base}"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def _decl(cluster_name: str, cluster: Cluster, instance: AddonInstance,
          templates: Mapping[str, AddonTemplate], project_id: str, used: set[str]) -> _Decl:
    template = templates.get(instance.template_name)
    version = template.version(instance.version) if template else None
    leaves: dict[Path, JSON] = {_VERSION: instance.version}
    live = instance.values
    chosen = live_flavor(live)
    defaults: dict[str, JSON] = {}
    filled: dict[str, str] = {}
    if version is not None:
        presets = list(version.flavors)
        if chosen not in version.flavors:
            chosen = None
        elif presets and chosen != presets[0]:
            leaves[_FLAVOR] = chosen
        # Shared with the planner's cache, read only: only "custom" is replaced, by a copy.
        defaults = dict(defaults_for(version, None, AddonSpec(name="", flavor=chosen)).values)
        derived = {"cluster_id": cluster.id, "tenant_id": project_id, "project_id": project_id}
        custom = defaults.get("custom")
        if isinstance(custom, Mapping):
            filled = {k: derived[k] for k in _DERIVED if k in custom and derived[k]}
            defaults["custom"] = {**custom, **filled}
    norm = normalise(dict(live), defaults)
    found: dict[Path, JSON] = {}
    if isinstance(norm, Mapping):
        _diff(norm, defaults, (), found)
    for key in filled:
        found.pop(("custom", key), None)  # the planner sends the derived id whatever a file says
    secrets: dict[Path, JSON | Secret] = {}
    for path, value in list(found.items()):
        protected = _protect(value, path, cluster_name, instance.template_name, used)
        if protected is not value:
            secrets[path] = protected
            del found[path]
    leaves.update({("values", *path): value for path, value in found.items()})
    written: dict[str, JSON] = {}
    _put_all(written, [*found.items(), *((p, "") for p in secrets)])
    unknown = frozenset(k.path for k in unknown_keys(written, defaults))
    latest = False
    if template is not None:
        latest = _newest(template, cluster) == instance.version
    unchanged = not secrets and len(leaves) == 1
    running = chosen if chosen is not None else next(iter(version.flavors), None) \
        if version is not None else None
    return _Decl(leaves=leaves, latest=latest, flavor=running,
                 live=norm if isinstance(norm, Mapping) else {}, defaults=defaults,
                 secrets=secrets, unknown=unknown,
                 cce_installed=bool(template is not None and template.require and unchanged))


def _label_groups(names: Sequence[str], labels: Mapping[str, Mapping[str, str]]
                  ) -> list[tuple[str, tuple[str, ...], list[str], tuple[str, str] | None]]:
    """``(profile name, selector, members)`` per label value that at least two
    clusters but not all of them carry: biggest first, then by key and value."""
    members: dict[tuple[str, str], list[str]] = {}
    for name in names:
        for key, value in labels[name].items():
            members.setdefault((key, value), []).append(name)
    groups = [(key, value, m) for (key, value), m in members.items() if 2 <= len(m) < len(names)]
    groups.sort(key=lambda g: (-len(g[2]), g[0], g[1]))
    return [(f"{key.rsplit('/', 1)[-1]}-{value}" if value else key.rsplit("/", 1)[-1],
             (f"{key}={value}",), m, (key, value)) for key, value, m in groups]


def _profile_name(wanted: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", wanted).lstrip("_.-") or "group"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}-{n}", n + 1
    taken.add(unique)
    return unique


def _factor(members: Sequence[str], decls: Mapping[str, Mapping[str, _Decl]],
            given: dict[str, dict[str, dict[Path, JSON]]],
            templates: Mapping[str, AddonTemplate], *, base: bool) -> dict[str, AddonBlock]:
    """The profile of ``members``: for each add-on all of them run (a profile's
    add-on is declared on each of its clusters), the value most of them run at
    each path, where it changes what the earlier profiles give at least two of
    them (the base profile always pins the version most run: the line to edit).
    A member running something else says so in its own block, which wins.
    Records what the profile gives in ``given``."""
    common = set.intersection(*(set(decls[m]) for m in members))
    blocks: dict[str, AddonBlock] = {}
    for addon in sorted(common):
        group = [(m, decls[m][addon]) for m in members]
        paths: dict[Path, None] = {}
        for m, d in group:
            paths.update(dict.fromkeys(d.leaves))
            paths.update(dict.fromkeys(given[m].get(addon, {})))
        secret = [s for _, d in group for s in d.secrets]
        chosen: dict[Path, JSON] = {}
        for path in sorted(paths, key=_order):
            if any(_overlaps(path, s) for s in secret):
                continue
            value = _majority(path, [d for _, d in group])
            if value is _MISSING:
                continue
            changes = sum(1 for m, d in group
                          if _canon(given[m].get(addon, {}).get(path, d.default(path)))
                          != _canon(value))
            if changes >= 2 or (base and path == _VERSION and changes):
                chosen[path] = value
        if not chosen:
            continue
        for m, _ in group:
            given[m].setdefault(addon, {}).update(chosen)
        template = templates.get(addon)
        # CCE's values as far as the profiles go: none of them sets a value of it.
        untouched = all(set(given[m][addon]) == {_VERSION} for m in members)
        blocks[addon] = _block(chosen, cce_installed=bool(
            template is not None and template.require and untouched),
            unknown=frozenset().union(*(d.unknown for _, d in group)))
    return blocks


def _order(path: Path) -> tuple[str, ...]:
    return tuple(str(s) for s in path)


def _overlaps(one: Path, other: Path) -> bool:
    shorter = min(len(one), len(other))
    return one[:shorter] == other[:shorter]


def _majority(path: Path, group: Sequence[_Decl]) -> object:
    """The value more than half of ``group`` run at ``path``; for the version,
    ``latest`` instead where more run their newest than the most common pin
    (a fleet on several Kubernetes minors runs a version per minor)."""
    counts: dict[str, tuple[int, object]] = {}
    for d in group:
        value = d.actual(path)
        if value is _MISSING:
            return _MISSING  # a path some member lacks cannot be given back to it
        key = _canon(value)
        counts[key] = (counts.get(key, (0, value))[0] + 1, value)
    count, value = max(counts.values(), key=lambda cv: cv[0])
    if path == _VERSION:
        newest = sum(1 for d in group if d.latest)
        if newest > count and 2 * newest > len(group):
            return "latest"
    return value if 2 * count > len(group) else _MISSING


def _put_all(tree: dict[str, JSON], items: Sequence[tuple[Path, JSON]]) -> None:
    for path, value in items:
        node = tree
        for segment in path[:-1]:
            child = node.setdefault(str(segment), {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[str(path[-1])] = value


def _block(leaves: Mapping[Path, JSON], secrets: Mapping[Path, JSON | Secret] | None = None,
           cce_installed: bool = False, unknown: Collection[str] = ()) -> AddonBlock:
    block = AddonBlock(cce_installed=cce_installed)
    placed_paths = [_dotted(p[1:]) for p in leaves if p and p[0] == "values"]
    placed_paths += [_dotted(p) for p in (secrets or {})]
    block.allow_unknown_values = tuple(sorted(
        u for u in unknown if any(covers(u, p) for p in placed_paths)))
    version = leaves.get(_VERSION)
    block.version = version if isinstance(version, str) else None
    flavor = leaves.get(_FLAVOR)
    block.flavor = flavor if isinstance(flavor, str) else None
    placed: list[tuple[Path, JSON | Secret]] = [
        (p[1:], v) for p, v in leaves.items() if p and p[0] == "values"]
    placed += list((secrets or {}).items())
    for path, value in sorted(placed, key=lambda pv: tuple(str(s) for s in pv[0])):
        node: dict[str, JSON | Secret] = block.values
        for segment in path[:-1]:
            child = node.setdefault(str(segment), {})
            assert isinstance(child, dict)
            node = child
        node[str(path[-1])] = value
    return block


def _entry(name: str, cluster: Cluster, labels: Mapping[str, str],
           decls: Mapping[str, _Decl], given: Mapping[str, Mapping[Path, JSON]]) -> ClusterEntry:
    """The cluster's own block: whatever its profiles do not give it as it runs
    (what they give otherwise is overridden here), and its secrets."""
    addons: dict[str, AddonBlock] = {}
    for addon, decl in decls.items():
        from_profiles = given.get(addon, {})
        own = {p: decl.actual(p) for p, v in from_profiles.items() if not decl.satisfied(p, v)}
        own.update({p: v for p, v in decl.leaves.items() if p not in from_profiles})
        if own or decl.secrets:
            addons[addon] = _block(own, decl.secrets,
                                   cce_installed=decl.cce_installed, unknown=decl.unknown)
    return ClusterEntry(name=name, cluster_id=cluster.id, labels=labels,
                        kubernetes_version=cluster.version, addons=addons)
