"""The template catalogue each plan read, kept for commands without network.

``validate`` checks value keys against the templates (as plan does) and
``schema``/``values`` describe an add-on's values without a file or a
connection, from what the last plan of an endpoint read. One JSON file per
endpoint (endpoint, region and project: ``run.refresh.endpoint_key``) under
``.reconciler/templates/``: the catalogue in CCE's own wire shape, and each
planned cluster's Kubernetes version, type and category (what resolving
``latest`` needs). Templates hold defaults, never credentials or secrets;
the file is written through the redactor all the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.cloud.wire import parse_cluster, parse_template
from reconciler.masking.files import write_atomic
from reconciler.model.desired import ClusterSpec
from reconciler.model.live import AddonTemplate, Cluster

__all__ = ["CachedCatalogue", "cache_dir", "load_all", "load_for", "save", "save_live"]

_FORMAT = 1


@dataclass(frozen=True)
class CachedCatalogue:
    endpoint: str
    region: str
    project_id: str
    templates: Mapping[str, AddonTemplate]
    clusters: Mapping[str, Cluster]
    """By cluster id."""
    path: Path


def cache_dir(workdir: Path) -> Path:
    """``workdir`` is the state directory's parent (``.reconciler/``)."""
    return workdir / "templates"


def _file(directory: Path, endpoint: str, region: str, project_id: str) -> Path:
    key = f"{endpoint}|{region}|{project_id}".encode()
    return directory / f"{hashlib.sha256(key).hexdigest()[:20]}.json"


def save(directory: Path, spec: ClusterSpec, templates: Mapping[str, AddonTemplate],
         clusters: Iterable[Cluster]) -> None:
    """Record the catalogue ``spec``'s endpoint answered, with ``clusters``
    (merged over those recorded before: a plan of one cluster keeps the others)."""
    path = _file(directory, spec.endpoint, spec.region, spec.project_id)
    known: dict[str, object] = {}
    previous = _read(path)
    if previous is not None:
        known.update({c.id: _cluster_wire(c) for c in previous.clusters.values()})
    known.update({c.id: _cluster_wire(c) for c in clusters})
    data = {
        "format": _FORMAT,
        "endpoint": spec.endpoint,
        "region": spec.region,
        "project_id": spec.project_id,
        "templates": [_template_wire(t) for t in sorted(templates.values(),
                                                         key=lambda t: t.name)],
        "clusters": [known[k] for k in sorted(known)],
    }
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, sort_keys=True) + "\n")


def load_for(directory: Path, spec: ClusterSpec) -> CachedCatalogue | None:
    return _read(_file(directory, spec.endpoint, spec.region, spec.project_id))


def load_all(directory: Path) -> list[CachedCatalogue]:
    if not directory.is_dir():
        return []
    found = [_read(p) for p in sorted(directory.glob("*.json"))]
    return [c for c in found if c is not None]


def save_live(directory: Path, specs: Iterable[ClusterSpec],
              templates: Mapping[str, Mapping[str, AddonTemplate] | object],
              live: Mapping[str, Cluster]) -> None:
    """After a refresh: each endpoint's catalogue (those that were read) with
    its clusters. ``templates`` by ``endpoint_key``, ``live`` by cluster name."""
    by_endpoint: dict[str, tuple[ClusterSpec, list[Cluster]]] = {}
    for spec in specs:
        key = f"{spec.endpoint}|{spec.region}|{spec.project_id}"
        entry = by_endpoint.setdefault(key, (spec, []))
        if spec.name in live:
            entry[1].append(live[spec.name])
    for key, (spec, clusters) in by_endpoint.items():
        read = templates.get(key)
        if isinstance(read, Mapping) and read:
            save(directory, spec, read, clusters)


def _read(path: Path) -> CachedCatalogue | None:
    """The cache file, or None if it is missing or not one we wrote (it is
    only a cache: a damaged one is ignored, and the next plan rewrites it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return None
    try:
        templates = [parse_template(t) for t in data["templates"] if isinstance(t, dict)]
        clusters = [parse_cluster(c) for c in data["clusters"] if isinstance(c, dict)]
        return CachedCatalogue(
            endpoint=str(data["endpoint"]), region=str(data["region"]),
            project_id=str(data["project_id"]),
            templates={t.name: t for t in templates},
            clusters={c.id: c for c in clusters}, path=path)
    except (KeyError, TypeError, AttributeError):
        return None


def _template_wire(template: AddonTemplate) -> dict[str, object]:
    return {
        "metadata": {"name": template.name, "alias": template.alias},
        "spec": {
            "type": template.type,
            "require": template.require,
            "labels": list(template.labels),
            "description": template.description,
            "versions": [{
                "version": v.version,
                "input": v.input,
                "stable": v.stable,
                "supportVersions": [{
                    "clusterType": s.cluster_type,
                    "clusterVersion": list(s.cluster_versions),
                    "category": list(s.categories),
                } for s in v.support_versions],
            } for v in template.versions],
        },
    }


def _cluster_wire(cluster: Cluster) -> dict[str, object]:
    return {
        "metadata": {"uid": cluster.id, "name": cluster.name},
        "spec": {"version": cluster.version, "type": cluster.type,
                 "category": cluster.category},
        "status": {"phase": cluster.phase},
    }
