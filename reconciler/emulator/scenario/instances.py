"""Scenario add-on instances (the seeds an emulator starts with) and the rules
that make an install or upgrade fail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.emulator.scenario.clusters import ClusterSpec, cluster_ref
from reconciler.emulator.scenario.reader import Reader, read_regex, read_selector
from reconciler.emulator.scenario.templates import TemplateSpec, deep_merge, default_values
from reconciler.kit.selectors import Selector
from reconciler.model.json import JSON

__all__ = ["FailureRule", "InstanceSeed", "read_failure_rule", "read_instance"]


@dataclass(frozen=True)
class InstanceSeed:
    id: str
    cluster_id: str
    template: str
    version: str
    values: Mapping[str, JSON]
    status: str = "running"
    reason: str = ""
    message: str = ""
    previous_version: str = ""
    is_rollbackable: bool = False


@dataclass(frozen=True)
class FailureRule:
    """Makes a matching install or upgrade end in installFailed/upgradeFailed."""

    template: str
    operation: str
    reason: str = ""
    message: str = ""
    cluster_id: str | None = None
    version: str | None = None
    """Regex on the version being installed/upgraded to; None matches any."""
    cluster_labels: Selector | None = None
    """Only clusters whose scenario ``labels`` match; None: any cluster."""

    def matches(self, template: str, cluster_id: str, operation: str, version: str,
                labels: Mapping[str, str]) -> bool:
        return (
            self.template == template
            and self.operation == operation
            and self.cluster_id in (None, cluster_id)
            and (self.cluster_labels is None or self.cluster_labels.matches(labels))
            and (self.version is None or re.fullmatch(self.version, version) is not None)
        )


_INSTANCE_STATUSES = {
    "running", "abnormal", "installing", "installFailed", "upgrading", "upgradeFailed",
    "deleting", "deleteFailed", "available", "rollbacking", "rollbackFailed", "unknown",
}


def read_instance(r: Reader, clusters: dict[str, ClusterSpec], templates: dict[str, TemplateSpec],
              project_id: str) -> InstanceSeed:
    r.check_keys({"id", "cluster", "template", "version", "flavor", "values", "status", "reason",
                  "message", "previous_version", "is_rollbackable"})
    cluster_ref: str = r.get("cluster", str, required=True)
    cluster = clusters.get(cluster_ref) or next(
        (c for c in clusters.values() if c.name == cluster_ref), None
    )
    if cluster is None:
        r.fail(f"no cluster with id or name {cluster_ref!r}", "cluster")
        raise AssertionError  # unreachable: fail raises
    tname: str = r.get("template", str, required=True)
    template = templates.get(tname)
    if template is None:
        r.fail(f"unknown template {tname!r}; known: {', '.join(sorted(templates))}", "template")
        raise AssertionError
    version: str = r.get("version", str, required=True)
    tv = template.version(version)
    if tv is None:
        r.fail(f"template {tname} has no version {version}; versions: "
               f"{', '.join(v.version for v in template.versions)}", "version")
        raise AssertionError
    flavor: str | None = r.get("flavor", str, None)
    if flavor is not None and tv.flavor(flavor) is None:
        r.fail(f"template {tname} {version} has no flavor named {flavor}", "flavor")
    values = deep_merge(default_values(tv, flavor, cluster.id, project_id),
                        r.get("values", dict, {}))
    status: str = r.get("status", str, "running")
    if status not in _INSTANCE_STATUSES:
        r.fail(f"must be one of {', '.join(sorted(_INSTANCE_STATUSES))}", "status")
    return InstanceSeed(
        id=r.get("id", str, required=True),
        cluster_id=cluster.id,
        template=tname,
        version=version,
        values=values,
        status=status,
        reason=r.get("reason", str, ""),
        message=r.get("message", str, ""),
        previous_version=r.get("previous_version", str, ""),
        is_rollbackable=r.get("is_rollbackable", bool, False),
    )


def read_failure_rule(r: Reader, clusters: dict[str, ClusterSpec]) -> FailureRule:
    r.check_keys({"template", "cluster", "cluster_labels", "operation", "version", "reason",
                  "message"})
    operation: str = r.get("operation", str, required=True)
    if operation not in ("install", "upgrade"):
        r.fail("must be install or upgrade", "operation")
    return FailureRule(
        template=r.get("template", str, required=True),
        operation=operation,
        reason=r.get("reason", str, ""),
        message=r.get("message", str, f"{operation} failed"),
        cluster_id=cluster_ref(r, clusters),
        version=read_regex(r, "version"),
        cluster_labels=read_selector(r, "cluster_labels"),
    )
