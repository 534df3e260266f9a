"""The desired-state file ``emulator serve --generate N --write-desired FILE``
writes: every served cluster with its labels and the add-ons it runs at the
versions it runs, and a three-wave rollout, so ``reconciler plan FILE`` has
nothing to change and a version edit rolls out canary → prod → rest.

What every cluster runs alike goes into one profile, ``base``, so a fleet-wide
change is a one-line edit: an add-on every cluster runs at one version is
pinned there; one every cluster runs at the newest version supporting it
(autoscaler has a version per Kubernetes minor) is ``version: latest`` there,
computed like the client's resolution (newest stable version supporting the
cluster). A profile's add-on is declared on every cluster using it, so
anything else (an add-on some cluster lacks, or runs at another version)
stays pinned per cluster.

Written as plain YAML in the documented desired-state format
(docs/desired-state.md): the emulator imports nothing of the
client, so it cannot reuse the config side's model; a format drift shows up
in the test that plans the written file. No credential is written: the
client reads them from the environment as for any endpoint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.emulator.scenario import ClusterSpec, TemplateSpec
from reconciler.emulator.store import version_key
from reconciler.kit.yamlout import Flow as _Flow
from reconciler.kit.yamlout import FlowList as _FlowList
from reconciler.kit.yamlout import dump

__all__ = ["CANARY_SOAK", "PROFILE", "ROLLOUT", "desired_state_yaml", "profile_upgrades"]

PROFILE = "base"
"""The one profile the file declares: what every cluster runs alike."""

CANARY_SOAK = "30s"
"""Long enough for a soak to poll a few times (it polls every 10 s at most)."""

ROLLOUT: Mapping[str, object] = {
    "waves": [
        {"name": "canary", "clusters": ["env=staging"], "soak": CANARY_SOAK},
        {"name": "prod", "clusters": ["env=prod"], "max_parallel": 5, "max_failures": 1},
        {"name": "rest"},
    ],
    "pause": "none",
}


def _rollout(canary_soak: str) -> dict[str, Any]:
    waves = ROLLOUT["waves"]
    assert isinstance(waves, list)
    written = [{k: _FlowList(v) if isinstance(v, list) else v for k, v in w.items()}
               for w in waves]
    written[0]["soak"] = canary_soak
    return {"waves": written, "pause": ROLLOUT["pause"]}


def _latest(template: TemplateSpec | None, cluster: ClusterSpec) -> str | None:
    """What ``version: latest`` resolves to on ``cluster`` (the client's rule:
    the newest stable version supporting the cluster's type, category and
    Kubernetes version); None when nothing fits."""
    if template is None:
        return None
    fitting = [v.version for v in template.versions
               if v.stable and v.supports(cluster.type, cluster.category, cluster.version)]
    return max(fitting, key=version_key) if fitting else None


def _profile(clusters: Sequence[ClusterSpec], versions: Mapping[str, Mapping[str, str]],
             templates: Mapping[str, TemplateSpec]) -> dict[str, str]:
    """template → the version the profile declares: the one every cluster runs,
    or ``latest`` where each cluster runs its own newest. Only templates every
    cluster runs: a profile's add-on is declared (installed) on each of them."""
    names = set.intersection(*(set(versions[c.id]) for c in clusters)) if clusters else set()
    profile: dict[str, str] = {}
    latest: dict[tuple[str, str, str, str], str | None] = {}  # per kind of cluster, not per cluster

    def is_latest(name: str, cluster: ClusterSpec) -> bool:
        key = (name, cluster.type, cluster.category, cluster.version)
        if key not in latest:
            latest[key] = _latest(templates.get(name), cluster)
        return versions[cluster.id][name] == latest[key]

    for name in sorted(names):
        running = {versions[c.id][name] for c in clusters}
        if len(running) == 1:
            profile[name] = running.pop()
        elif all(is_latest(name, c) for c in clusters):
            profile[name] = "latest"
    return profile


def profile_upgrades(clusters: Sequence[ClusterSpec],
                     running: Mapping[str, Iterable[tuple[str, str]]],
                     templates: Sequence[TemplateSpec]) -> list[tuple[str, str, str]]:
    """``(template, pinned, newer)`` for each add-on the ``base`` profile pins
    below the newest stable version every cluster supports: the one-line edits
    that roll something out (the banner suggests the first)."""
    versions = {c.id: dict(running.get(c.id, ())) for c in clusters}
    by_name = {t.name: t for t in templates}
    found: list[tuple[str, str, str]] = []
    for name, pinned in _profile(clusters, versions, by_name).items():
        template = by_name.get(name)
        if pinned == "latest" or template is None:
            continue
        kinds = {(c.type, c.category, c.version) for c in clusters}
        everywhere = [v.version for v in template.versions
                      if v.stable and all(v.supports(*kind) for kind in kinds)]
        newest = max(everywhere, key=version_key, default=pinned)
        if version_key(newest) > version_key(pinned):
            found.append((name, pinned, newest))
    return found


def desired_state_yaml(clusters: Sequence[ClusterSpec],
                       running: Mapping[str, Iterable[tuple[str, str]]], *, endpoint: str,
                       project_id: str, region: str, header: str = "",
                       templates: Sequence[TemplateSpec] = (),
                       canary_soak: str = CANARY_SOAK) -> str:
    """The file's text. ``running`` maps a cluster id to its ``(template,
    version)`` pairs; ``templates`` (the served ones) let the ``base`` profile
    say ``latest``; ``header`` becomes the leading comment (one line per line)."""
    versions = {c.id: dict(running.get(c.id, ())) for c in clusters}
    profile = _profile(clusters, versions, {t.name: t for t in templates})
    document: dict[str, Any] = {
        "apiVersion": "reconciler/v1",
        "defaults": {"region": region, "project_id": project_id, "endpoint": endpoint},
        "rollout": _rollout(canary_soak),
    }
    if profile:
        document["profiles"] = {PROFILE: {"addons": {
            name: _Flow(version=version) for name, version in profile.items()}}}
    document["clusters"] = {c.name: _cluster(c, versions[c.id], profile) for c in clusters}
    body = dump(document)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def _cluster(cluster: ClusterSpec, versions: Mapping[str, str],
             profile: Mapping[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"cluster_id": cluster.id, "labels": _Flow(cluster.labels)}
    if profile:
        entry["profiles"] = _FlowList([PROFILE])
    own = {name: _Flow(version=version) for name, version in sorted(versions.items())
           if name not in profile}
    if own:
        entry["addons"] = own
    return entry
