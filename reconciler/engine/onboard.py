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

1. ``base`` (every cluster of the file): each add-on every cluster runs, at
   the version they all run, or ``latest`` where each runs the newest stable
   version supporting it (the planner's own resolution), with the flavor and
   values they all share;
2. one profile per label (``env=prod``, biggest group first) for what the
   group's clusters share beyond the profiles already given to them;
3. each cluster's own ``addons`` for the rest.

A profile only holds what every one of its clusters runs, so two profiles
never disagree on a cluster and the merge (profiles in order, then the
cluster's own) gives back exactly what runs: the file plans to adoptions only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.engine.checks import newest_supported_stable
from reconciler.engine.normalise import normalise
from reconciler.engine.values import live_flavor, template_defaults
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, AddonTemplate, Cluster, LiveCluster
from reconciler.model.sensitive import NO_RULES, leaf_is_sensitive

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


@dataclass
class Profile:
    name: str
    clusters: tuple[str, ...]
    """Names, globs or selectors, as a profile's ``clusters:`` key takes them."""
    addons: dict[str, AddonBlock]


@dataclass
class ClusterEntry:
    name: str
    cluster_id: str
    labels: Mapping[str, str]
    kubernetes_version: str
    addons: dict[str, AddonBlock]
    cce_installed: tuple[str, ...] = ()
    """CCE-installed, unchanged add-ons declared only by a profile that does
    not say so (some other cluster of it changed them)."""


@dataclass
class Onboarded:
    profiles: list[Profile]
    clusters: list[ClusterEntry]
    secrets: tuple[str, ...]
    """The variables the file's ``secret()`` placeholders read, in order."""


@dataclass
class _Decl:
    """One live add-on as a set of leaves: version, flavor and differing values."""

    leaves: dict[Path, JSON]
    canon: dict[Path, str]
    latest: bool
    secrets: dict[Path, JSON | Secret]
    cce_installed: bool


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
    labels = {n: dict(live.cluster.labels) for n, live in zip(names, clusters, strict=True)}
    covered: dict[str, dict[str, set[Path]]] = {n: {} for n in names}
    profiles: list[Profile] = []
    if len(names) >= 2:
        groups = [(BASE_PROFILE, tuple(base_clusters), names)]
        groups += _label_groups(names, labels)
        taken = {BASE_PROFILE}
        for name, selector, members in groups:
            addons = _factor(members, decls, covered, templates)
            if addons:
                profile_name = _profile_name(name, taken)
                profiles.append(Profile(profile_name, selector, addons))
    entries = [_entry(n, live.cluster, labels[n], decls[n], covered[n], profiles, templates)
               for n, live in zip(names, clusters, strict=True)]
    return Onboarded(profiles=profiles, clusters=entries, secrets=tuple(sorted(used)))


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


def _decl(cluster_name: str, cluster: Cluster, instance: AddonInstance,
          templates: Mapping[str, AddonTemplate], project_id: str, used: set[str]) -> _Decl:
    template = templates.get(instance.template_name)
    version = template.version(instance.version) if template else None
    leaves: dict[Path, JSON] = {_VERSION: instance.version}
    live = instance.values
    chosen = live_flavor(live)
    defaults: dict[str, JSON] = {}
    if version is not None:
        presets = list(version.flavors)
        if chosen not in version.flavors:
            chosen = None
        elif presets and chosen != presets[0]:
            leaves[_FLAVOR] = chosen
        defaults = template_defaults(version, chosen)
        derived = {"cluster_id": cluster.id, "tenant_id": project_id, "project_id": project_id}
        custom = defaults.get("custom")
        if isinstance(custom, Mapping):
            defaults["custom"] = {**custom, **{k: derived[k] for k in _DERIVED
                                              if k in custom and derived[k]}}
    norm = normalise(dict(live), defaults)
    found: dict[Path, JSON] = {}
    if isinstance(norm, Mapping):
        _diff(norm, defaults, (), found)
    secrets: dict[Path, JSON | Secret] = {}
    for path, value in list(found.items()):
        protected = _protect(value, path, cluster_name, instance.template_name, used)
        if protected is not value:
            secrets[path] = protected
            del found[path]
    leaves.update({("values", *path): value for path, value in found.items()})
    latest = False
    if template is not None:
        newest = newest_supported_stable(template, cluster)
        latest = newest is not None and newest.version == instance.version
    unchanged = not secrets and len(leaves) == 1
    return _Decl(leaves=leaves, canon={p: _canon(v) for p, v in leaves.items()}, latest=latest,
                 secrets=secrets,
                 cce_installed=bool(template is not None and template.require and unchanged))


_MISSING = object()


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
        elif theirs is _MISSING or _canon(value) != _canon(theirs):
            out[path] = value


def _canon(value: object) -> str:
    """Equality that tells 1 from 1.0 and True (a changed type is a changed value)."""
    return json.dumps(value, sort_keys=True, default=str)


def _protect(value: JSON, path: Path, cluster: str, addon: str,
             used: set[str]) -> JSON | Secret:
    """``value`` with every sensitive string in it replaced by a :class:`Secret`
    (the same object when there is none)."""
    if isinstance(value, list):
        items = [_protect(v, (*path, i), cluster, addon, used) for i, v in enumerate(value)]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value  # type: ignore[return-value]
    if isinstance(value, Mapping):
        inner = {k: _protect(v, (*path, k), cluster, addon, used) for k, v in value.items()}
        changed = any(inner[k] is not value[k] for k in value)
        return inner if changed else value  # type: ignore[return-value]
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


def _label_groups(names: Sequence[str], labels: Mapping[str, Mapping[str, str]]
                  ) -> list[tuple[str, tuple[str, ...], list[str]]]:
    """``(profile name, selector, members)`` per label value that at least two
    clusters but not all of them carry: biggest first, then by key and value."""
    members: dict[tuple[str, str], list[str]] = {}
    for name in names:
        for key, value in labels[name].items():
            members.setdefault((key, value), []).append(name)
    groups = [(key, value, m) for (key, value), m in members.items() if 2 <= len(m) < len(names)]
    groups.sort(key=lambda g: (-len(g[2]), g[0], g[1]))
    return [(f"{key.rsplit('/', 1)[-1]}-{value}" if value else key.rsplit("/", 1)[-1],
             (f"{key}={value}",), m) for key, value, m in groups]


def _profile_name(wanted: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", wanted).lstrip("_.-") or "group"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}-{n}", n + 1
    taken.add(unique)
    return unique


def _factor(members: Sequence[str], decls: Mapping[str, Mapping[str, _Decl]],
            covered: dict[str, dict[str, set[Path]]],
            templates: Mapping[str, AddonTemplate]) -> dict[str, AddonBlock]:
    """What ``members`` all run alike and do not all get from earlier profiles
    yet, as add-on blocks; marks those leaves covered for each member."""
    common = set.intersection(*(set(decls[m]) for m in members))
    blocks: dict[str, AddonBlock] = {}
    for addon in sorted(common):
        group = [decls[m][addon] for m in members]
        shared: dict[Path, JSON] = {}
        first = group[0]
        for path, canon in first.canon.items():
            if path == _VERSION:
                continue
            if all(d.canon.get(path) == canon for d in group[1:]):
                shared[path] = first.leaves[path]
        if all(d.canon[_VERSION] == first.canon[_VERSION] for d in group[1:]):
            shared[_VERSION] = first.leaves[_VERSION]
        elif all(d.latest for d in group):
            shared[_VERSION] = "latest"
        new = {p: v for p, v in shared.items()
               if not all(p in covered[m].get(addon, ()) for m in members)}
        if not new:
            continue
        for m in members:
            covered[m].setdefault(addon, set()).update(new)
        template = templates.get(addon)
        blocks[addon] = _block(new, cce_installed=bool(
            template is not None and template.require and all(d.cce_installed for d in group)))
    return blocks


def _block(leaves: Mapping[Path, JSON], secrets: Mapping[Path, JSON | Secret] | None = None,
           cce_installed: bool = False) -> AddonBlock:
    block = AddonBlock(cce_installed=cce_installed)
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
           decls: Mapping[str, _Decl], covered: Mapping[str, set[Path]],
           profiles: Sequence[Profile], templates: Mapping[str, AddonTemplate]) -> ClusterEntry:
    """The cluster's own block: every leaf no profile gives it, and its secrets."""
    addons: dict[str, AddonBlock] = {}
    noted_by_profile = {a for p in profiles for a, b in p.addons.items()
                        if b.cce_installed and _applies(p, name, labels)}
    loose: list[str] = []
    for addon, decl in decls.items():
        given = covered.get(addon, set())
        own = {p: v for p, v in decl.leaves.items() if p not in given}
        if own or decl.secrets:
            addons[addon] = _block(own, decl.secrets, cce_installed=decl.cce_installed)
        elif decl.cce_installed and addon not in noted_by_profile:
            loose.append(addon)
    return ClusterEntry(name=name, cluster_id=cluster.id, labels=labels,
                        kubernetes_version=cluster.version, addons=addons,
                        cce_installed=tuple(loose))


def _applies(profile: Profile, name: str, labels: Mapping[str, str]) -> bool:
    """Whether ``profile`` chooses the cluster: the base one chooses every
    cluster of the file, a label profile its one ``key=value``."""
    if profile.name == BASE_PROFILE:
        return True
    key, _, value = profile.clusters[0].partition("=")
    return labels.get(key) == value
