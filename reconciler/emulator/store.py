"""The emulator's state and its rules: pure, no I/O, time passed in.

Time is lazy: an operation records when it started (``clock()`` seconds) and
its outcome is derived from the elapsed time when read, scaled by
``time_scale``. Reading settles finished operations, which is deterministic,
so a reloaded state file gives the same answers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator.errors import (
    INNER_BAD_BODY,
    INNER_CLUSTER_UNSUPPORTED,
    INNER_NOT_FOUND,
    ApiError,
)
from reconciler.emulator.scenario import (
    ClusterSpec,
    Scenario,
    TemplateSpec,
    TemplateVersionSpec,
    deep_merge,
    default_values,
)
from reconciler.model.json import JSON

__all__ = ["AddonTask", "ClusterTask", "Instance", "Operation", "Store", "version_key"]

IN_PROGRESS = {"install": "installing", "upgrade": "upgrading", "rollback": "rollbacking",
               "delete": "deleting"}
ROLLBACK_FROM = {"running", "available", "abnormal", "upgradeFailed", "rollbackFailed"}
STANDARD_RISKS = ("K8sResourceModified", "AddonValidate", "AddonStatus")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


@dataclass
class Operation:
    kind: str
    """install, upgrade, rollback or delete."""
    started: float
    fails: bool = False
    reason: str = ""
    message: str = ""


@dataclass
class Instance:
    id: str
    cluster_id: str
    template: str
    version: str
    values: Mapping[str, JSON]
    created: float
    updated: float
    status: str = "running"
    reason: str = ""
    message: str = ""
    previous_version: str = ""
    previous_values: Mapping[str, JSON] | None = None
    is_rollbackable: bool = False
    op: Operation | None = None


@dataclass
class Risk:
    name: str
    level: str
    fails: bool
    message: str = ""


@dataclass
class AddonTask:
    task_id: str
    cluster_id: str
    type: str
    template: str
    instance_id: str
    target_version: str
    created: float
    risks: list[Risk] = field(default_factory=list)


@dataclass
class ClusterTask:
    uid: str
    cluster_id: str
    spec: dict[str, JSON]
    created: float
    target_version: str
    addon_risks: list[dict[str, str]] = field(default_factory=list)
    """``[{addonTemplateName, alias, version}]`` of installed add-ons not supporting the target."""


def _bad(message: str, inner: str = "") -> ApiError:
    return ApiError(400, "CCE.03400001", message, inner)


def _require(body: Mapping[str, JSON], path: str) -> JSON:
    node: JSON = body
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) in (None, ""):
            raise _bad(f"{path} is required", INNER_BAD_BODY)
        node = node[part]
    return node


class Store:
    def __init__(self, scenario: Scenario, project_id: str, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.scenario, self.project_id, self.time_scale = scenario, project_id, time_scale
        self.timing = scenario.timing
        self.clusters: dict[str, ClusterSpec] = {c.id: c for c in scenario.clusters}
        self.templates: dict[str, TemplateSpec] = {t.name: t for t in scenario.templates}
        self.instances: dict[str, Instance] = {}
        self.by_cluster: dict[str, dict[str, Instance]] = {c: {} for c in self.clusters}
        self.addon_tasks: dict[str, list[AddonTask]] = {}
        self.cluster_tasks: dict[str, list[ClusterTask]] = {}

    # --- time --------------------------------------------------------------------------
    def elapsed(self, since: float, now: float) -> float:
        """Emulated seconds between ``since`` and ``now``."""
        return (now - since) * self.time_scale

    def _duration(self, kind: str) -> float:
        return float(getattr(self.timing, f"{kind}_s"))

    def settle(self, inst: Instance, now: float) -> Instance | None:
        """Finish ``inst``'s operation if its time is up; None once deleted."""
        op = inst.op
        if op is None or self.elapsed(op.started, now) < self._duration(op.kind):
            return inst
        finished_at = op.started + self._duration(op.kind) / self.time_scale
        inst.op, inst.updated = None, finished_at
        if op.kind == "delete":
            self._remove(inst)
            return None
        if op.fails:
            inst.status = "installFailed" if op.kind == "install" else f"{op.kind}Failed"
            inst.reason, inst.message = op.reason, op.message
        else:
            inst.status, inst.reason, inst.message = "running", "", ""
        return inst

    # --- instances ---------------------------------------------------------------------
    def add(self, inst: Instance) -> None:
        self.instances[inst.id] = inst
        self.by_cluster.setdefault(inst.cluster_id, {})[inst.id] = inst

    def _remove(self, inst: Instance) -> None:
        self.instances.pop(inst.id, None)
        self.by_cluster.get(inst.cluster_id, {}).pop(inst.id, None)

    def cluster(self, cluster_id: str, family: str = "03") -> ClusterSpec:
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(404, f"CCE.{family}404001", f"cluster {cluster_id} not found")
        return cluster

    def list_instances(self, cluster_id: str, now: float) -> list[Instance]:
        live = (self.settle(i, now) for i in list(self.by_cluster.get(cluster_id, {}).values()))
        return [i for i in live if i is not None]

    def get_instance(self, instance_id: str, now: float) -> Instance:
        inst = self.instances.get(instance_id)
        if inst is not None:
            inst = self.settle(inst, now)
        if inst is None:
            raise ApiError(404, "CCE.03404001", f"addon instance {instance_id} not found",
                           INNER_NOT_FOUND)
        return inst

    def target_versions(self, inst: Instance) -> list[str] | None:
        template, cluster = self.templates.get(inst.template), self.clusters.get(inst.cluster_id)
        if template is None or cluster is None:
            return None
        newer = [v.version for v in template.versions
                 if version_key(v.version) > version_key(inst.version)
                 and v.supports(cluster.type, cluster.category, cluster.version)]
        return sorted(newer, key=version_key) or None

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
                raise _bad(f"no version of addon {template.name} supports cluster version "
                           f"{cluster.version}", INNER_CLUSTER_UNSUPPORTED)
            return max(usable, key=lambda v: version_key(v.version))
        tv = template.version(version)
        if tv is None:
            raise _bad(f"addon {template.name} has no version {version}; versions: "
                       f"{', '.join(v.version for v in template.versions)}")
        if not tv.supports(cluster.type, cluster.category, cluster.version):
            raise _bad(f"The cluster can't support the addon: {template.name} {version} does not "
                       f"support {cluster.type} {cluster.category} cluster version "
                       f"{cluster.version}", INNER_CLUSTER_UNSUPPORTED)
        return tv

    @staticmethod
    def _check_available(cluster: ClusterSpec) -> None:
        if cluster.phase != "Available":
            raise _bad(f"cluster {cluster.id} is not Available (phase {cluster.phase})")

    @staticmethod
    def _check_idle(inst: Instance) -> None:
        if inst.op is not None:
            raise _bad(f"addon instance {inst.id} is {inst.status}: wait for the running "
                       "operation to finish")

    def _full_values(self, template: TemplateSpec, tv: TemplateVersionSpec,
                     values: JSON) -> dict[str, JSON]:
        if not isinstance(values, Mapping):
            raise _bad("spec.values must be an object", INNER_BAD_BODY)
        if template.custom_required and not values.get("custom"):
            raise _bad("custom values are not defined")
        # Like the real service: whatever is omitted falls back to the template default.
        return deep_merge(default_values(tv), values)

    def _failure(self, template: str, cluster_id: str, operation: str,
                 version: str) -> tuple[bool, str, str]:
        for rule in self.scenario.failure_rules:
            if rule.matches(template, cluster_id, operation, version):
                return True, rule.reason, rule.message
        return False, "", ""

    def _start(self, inst: Instance, kind: str, now: float, version: str = "") -> None:
        fails, reason, message = (self._failure(inst.template, inst.cluster_id, kind, version)
                                  if kind in ("install", "upgrade") else (False, "", ""))
        inst.op = Operation(kind, now, fails, reason, message)
        inst.status, inst.reason, inst.message, inst.updated = IN_PROGRESS[kind], "", "", now

    def create_instance(self, body: JSON, now: float) -> Instance:
        if not isinstance(body, Mapping):
            raise _bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "metadata", "spec", "spec.clusterID",
                     "spec.addonTemplateName"):
            _require(body, path)
        spec = body["spec"]
        if "values" not in spec or spec["values"] is None:
            raise _bad("spec.values is required", INNER_BAD_BODY)
        cluster = self.cluster(str(spec["clusterID"]))
        template = self._template(str(spec["addonTemplateName"]))
        tv = self._checked_version(template, spec.get("version") or None, cluster)
        if any(i.template == template.name for i in self.list_instances(cluster.id, now)):
            raise ApiError(409, "CCE.03409001",
                           f"addon {template.name} has already been installed in cluster "
                           f"{cluster.id}")
        self._check_available(cluster)
        values = self._full_values(template, tv, spec["values"])
        inst = Instance(str(uuid.uuid4()), cluster.id, template.name, tv.version, values, now, now)
        self._start(inst, "install", now, tv.version)
        self.add(inst)
        return inst

    def update_instance(self, instance_id: str, body: JSON, now: float) -> Instance:
        if not isinstance(body, Mapping):
            raise _bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "metadata", "spec", "spec.clusterID",
                     "spec.addonTemplateName", "spec.version"):
            _require(body, path)
        spec = body["spec"]
        if "values" not in spec or spec["values"] is None:
            raise _bad("spec.values is required", INNER_BAD_BODY)
        inst = self.get_instance(instance_id, now)
        if spec["clusterID"] != inst.cluster_id:
            raise _bad(f"addon instance {inst.id} does not belong to cluster {spec['clusterID']}")
        if spec["addonTemplateName"] != inst.template:
            raise _bad(f"addon instance {inst.id} is a {inst.template}, not a "
                       f"{spec['addonTemplateName']}")
        cluster = self.cluster(inst.cluster_id)
        template = self._template(inst.template)
        tv = self._checked_version(template, str(spec["version"]), cluster)
        self._check_available(cluster)
        self._check_idle(inst)
        values = self._full_values(template, tv, spec["values"])
        inst.previous_version, inst.previous_values = inst.version, inst.values
        inst.version, inst.values, inst.is_rollbackable = tv.version, values, True
        self._start(inst, "upgrade", now, tv.version)
        return inst

    def delete_instance(self, instance_id: str, cluster_id: str | None, now: float) -> None:
        inst = self.get_instance(instance_id, now)
        if cluster_id and cluster_id != inst.cluster_id:
            raise ApiError(404, "CCE.03404001",
                           f"addon instance {instance_id} not found in cluster {cluster_id}",
                           INNER_NOT_FOUND)
        self._check_available(self.cluster(inst.cluster_id))
        self._check_idle(inst)
        self._start(inst, "delete", now)

    def rollback_instance(self, instance_id: str, body: JSON, now: float) -> Instance:
        if not isinstance(body, Mapping):
            raise _bad("request body must be a JSON object", INNER_BAD_BODY)
        cluster_id = _require(body, "clusterID")
        inst = self.get_instance(instance_id, now)
        if cluster_id != inst.cluster_id:
            raise _bad(f"addon instance {inst.id} does not belong to cluster {cluster_id}")
        self._check_available(self.cluster(inst.cluster_id))
        self._check_idle(inst)
        if not inst.is_rollbackable or not inst.previous_version:
            raise _bad(f"addon instance {inst.id} is not rollbackable")
        if inst.status not in ROLLBACK_FROM:
            raise _bad(f"addon instance {inst.id} cannot be rolled back while {inst.status}")
        inst.version, inst.previous_version = inst.previous_version, inst.version
        if inst.previous_values is not None:
            inst.values, inst.previous_values = inst.previous_values, inst.values
        inst.is_rollbackable = False
        self._start(inst, "rollback", now)
        return inst

    # --- add-on prechecks --------------------------------------------------------------
    def create_addon_precheck(self, cluster_id: str, body: JSON, now: float) -> tuple[
            dict[str, JSON], list[AddonTask]]:
        cluster = self.cluster(cluster_id)
        if not isinstance(body, Mapping):
            raise _bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "spec", "spec.clusterID"):
            _require(body, path)
        spec = body["spec"]
        if spec["clusterID"] != cluster_id:
            raise _bad(f"spec.clusterID {spec['clusterID']} does not match the path "
                       f"cluster {cluster_id}")
        addon_list = spec.get("addonList")
        if not isinstance(addon_list, list) or not addon_list:
            raise _bad("spec.addonList is required", INNER_BAD_BODY)
        planned: list[tuple[dict[str, JSON], Instance, str]] = []
        for i, item in enumerate(addon_list):
            if not isinstance(item, Mapping):
                raise _bad(f"spec.addonList[{i}] must be an object", INNER_BAD_BODY)
            for key in ("addonTemplateName", "addonInstanceID", "type"):
                if not item.get(key):
                    raise _bad(f"spec.addonList[{i}].{key} is required", INNER_BAD_BODY)
            if item["type"] not in ("addonUpgrade", "addonStatic"):
                raise _bad(f"spec.addonList[{i}].type must be addonUpgrade or addonStatic")
            inst = self.get_instance(str(item["addonInstanceID"]), now)
            if inst.cluster_id != cluster_id or inst.template != item["addonTemplateName"]:
                raise ApiError(404, "CCE.03404001",
                               f"addon instance {inst.id} ({item['addonTemplateName']}) not found "
                               f"in cluster {cluster_id}", INNER_NOT_FOUND)
            target = item.get("targetVersion") or ""
            if item["type"] == "addonUpgrade":
                if not target:
                    raise _bad(f"spec.addonList[{i}].targetVersion is required for addonUpgrade",
                               INNER_BAD_BODY)
                self._checked_version(self._template(inst.template), str(target), cluster)
            echoed = dict(item)
            echoed["values"] = item.get("values") or inst.values
            planned.append((echoed, inst, str(target)))
        tasks = []
        for echoed, inst, target in planned:
            task = AddonTask(str(uuid.uuid4()), cluster_id, str(echoed["type"]), inst.template,
                             inst.id, target, now, self._risks(inst, str(echoed["type"]), target))
            self.addon_tasks.setdefault(cluster_id, []).append(task)
            tasks.append(task)
        echo = {"clusterID": cluster_id, "addonList": [e for e, _, _ in planned]}
        return echo, tasks

    def _risks(self, inst: Instance, check_type: str, target: str) -> list[Risk]:
        risks = {name: Risk(name, "Warning", False) for name in STANDARD_RISKS}
        if inst.status not in ("running", "available"):
            risks["AddonStatus"] = Risk("AddonStatus", "Warning", True,
                                        f"addon status({inst.status}) is not running")
        for rule in self.scenario.precheck_rules:
            if rule.matches(inst.template, inst.cluster_id, check_type, target, inst.status):
                risks[rule.risk] = Risk(rule.risk, rule.level, True, rule.message)
        return list(risks.values())

    def addon_task_phase(self, task: AddonTask, now: float) -> str:
        elapsed = self.elapsed(task.created, now)
        if elapsed < self.timing.addon_precheck_init_s:
            return "Init"
        if elapsed < self.timing.addon_precheck_init_s + self.timing.addon_precheck_run_s:
            return "Running"
        return "Failed" if any(r.fails for r in task.risks) else "Success"

    def addon_task_expiry(self, task: AddonTask) -> float:
        t = self.timing
        span = t.addon_precheck_init_s + t.addon_precheck_run_s + t.precheck_expiry_s
        return task.created + span / self.time_scale

    def list_addon_prechecks(self, cluster_id: str, check_type: str | None, task_id: str | None,
                             instance_id: str | None) -> list[AddonTask]:
        self.cluster(cluster_id)
        return [t for t in self.addon_tasks.get(cluster_id, [])
                if check_type in (None, t.type) and task_id in (None, t.task_id)
                and instance_id in (None, t.instance_id)]

    # --- cluster pre-upgrade checks ----------------------------------------------------
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

