"""What every part of the store shares: the scenario, emulated time, cluster
and template lookups, and the 400 a malformed request gets."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reconciler.emulator.errors import (
    INNER_BAD_BODY,
    INNER_CLUSTER_UNSUPPORTED,
    INNER_NOT_FOUND,
    ApiError,
)
from reconciler.emulator.scenario import ClusterSpec, Scenario, TemplateSpec, TemplateVersionSpec
from reconciler.model.json import JSON

__all__ = ["StoreBase", "bad", "require", "version_key"]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def bad(message: str, inner: str = "") -> ApiError:
    return ApiError(400, "CCE.03400001", message, inner)


def require(body: Mapping[str, JSON], path: str) -> JSON:
    node: JSON = body
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) in (None, ""):
            raise bad(f"{path} is required", INNER_BAD_BODY)
        node = node[part]
    return node


class StoreBase:
    """The scenario and the clock arithmetic; the resource mixins build on it."""

    def __init__(self, scenario: Scenario, project_id: str, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.scenario, self.project_id, self.time_scale = scenario, project_id, time_scale
        self.timing = scenario.timing
        self.clusters: dict[str, ClusterSpec] = {c.id: c for c in scenario.clusters}
        self.templates: dict[str, TemplateSpec] = {t.name: t for t in scenario.templates}

    # --- time --------------------------------------------------------------------------
    def elapsed(self, since: float, now: float) -> float:
        """Emulated seconds between ``since`` and ``now``."""
        return (now - since) * self.time_scale

    def _duration(self, kind: str) -> float:
        return float(getattr(self.timing, f"{kind}_s"))

    # --- lookups -----------------------------------------------------------------------
    def cluster(self, cluster_id: str, family: str = "03") -> ClusterSpec:
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(404, f"CCE.{family}404001", f"cluster {cluster_id} not found")
        return cluster

    def _template(self, name: str) -> TemplateSpec:
        template = self.templates.get(name)
        if template is None:
            raise ApiError(404, "CCE.03404001", f"addon template {name} not exist", INNER_NOT_FOUND)
        return template

    def _checked_version(self, template: TemplateSpec, version: str | None,
                         cluster: ClusterSpec) -> TemplateVersionSpec:
        """The template version to use, checked against the cluster."""
        if version is None:
            usable = [v for v in template.versions
                      if v.supports(cluster.type, cluster.category, cluster.version)]
            if not usable:
                raise bad(f"no version of addon {template.name} supports cluster version "
                           f"{cluster.version}", INNER_CLUSTER_UNSUPPORTED)
            return max(usable, key=lambda v: version_key(v.version))
        tv = template.version(version)
        if tv is None:
            raise bad(f"addon {template.name} has no version {version}; versions: "
                       f"{', '.join(v.version for v in template.versions)}")
        if not tv.supports(cluster.type, cluster.category, cluster.version):
            raise bad(f"The cluster can't support the addon: {template.name} {version} does not "
                       f"support {cluster.type} {cluster.category} cluster version "
                       f"{cluster.version}", INNER_CLUSTER_UNSUPPORTED)
        return tv
