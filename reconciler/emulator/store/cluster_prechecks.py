"""Cluster pre-upgrade checks: which installed add-ons don't support the target version."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator.errors import INNER_BAD_BODY, ApiError
from reconciler.emulator.store.base import version_key
from reconciler.emulator.store.instances import Instances
from reconciler.model.json import JSON

__all__ = ["ClusterPrechecks", "ClusterTask"]

@dataclass
class ClusterTask:
    uid: str
    cluster_id: str
    spec: dict[str, JSON]
    created: float
    target_version: str
    addon_risks: list[dict[str, str]] = field(default_factory=list)
    """``[{addonTemplateName, alias, version}]`` of installed add-ons not supporting the target."""


class ClusterPrechecks(Instances):
    """Cluster precheck tasks; ``cluster_tasks`` is set up by ``Store``."""

    cluster_tasks: dict[str, list[ClusterTask]]

    def create_cluster_precheck(self, cluster_id: str, body: JSON, now: float) -> ClusterTask:
        cluster = self.cluster(cluster_id, "01")
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ApiError(400, "CCE.01400001", "request body must be a JSON object",
                           INNER_BAD_BODY)
        spec = dict(body.get("spec") or {})
        target = str(spec.get("targetVersion") or _next_minor(cluster.version))
        if not re.fullmatch(r"v\d+\.\d+(\.\d+)?(-r\d+)?", target):
            raise ApiError(400, "CCE.01400001",
                           f"spec.targetVersion {target!r} must look like v1.30 or v1.30.2-r0")
        if version_key(target)[:2] <= version_key(cluster.version)[:2]:
            raise ApiError(400, "CCE.01400015",
                           f"target version {target} is not newer than cluster version "
                           f"{cluster.version}")
        spec.setdefault("clusterID", cluster_id)
        spec.setdefault("clusterVersion", cluster.version)
        spec["targetVersion"] = target
        risks = []
        for inst in self.list_instances(cluster_id, now):
            tv = self.templates[inst.template].version(inst.version)
            if tv is not None and not tv.supports(cluster.type, cluster.category, target):
                alias = self.templates[inst.template].alias
                risks.append({"addonTemplateName": inst.template, "alias": alias,
                              "version": inst.version})
        task = ClusterTask(str(uuid.uuid4()), cluster_id, spec, now, target, risks)
        self.cluster_tasks.setdefault(cluster_id, []).append(task)
        return task

    def cluster_task_phase(self, task: ClusterTask, now: float) -> str:
        elapsed = self.elapsed(task.created, now)
        if elapsed < self.timing.cluster_precheck_init_s:
            return "Init"
        if elapsed < self.timing.cluster_precheck_init_s + self.timing.cluster_precheck_run_s:
            return "Running"
        return "Failed" if task.addon_risks else "Success"

    def cluster_task_expiry(self, task: ClusterTask) -> float:
        t = self.timing
        span = t.cluster_precheck_init_s + t.cluster_precheck_run_s + t.precheck_expiry_s
        return task.created + span / self.time_scale

    def list_cluster_prechecks(self, cluster_id: str) -> list[ClusterTask]:
        self.cluster(cluster_id, "01")
        return list(self.cluster_tasks.get(cluster_id, []))

    def get_cluster_precheck(self, cluster_id: str, task_id: str) -> ClusterTask:
        task = next((t for t in self.list_cluster_prechecks(cluster_id) if t.uid == task_id), None)
        if task is None:
            raise ApiError(404, "CCE.01404001", f"precheck task {task_id} not found")
        return task


def _next_minor(version: str) -> str:
    major, minor = version_key(version)[:2]
    return f"v{major}.{minor + 1}"
