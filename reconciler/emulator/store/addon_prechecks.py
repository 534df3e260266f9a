"""Add-on prechecks: tasks created per add-on, whose risks come from the
scenario's precheck rules and the instance's status, phases by elapsed time."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator.errors import INNER_BAD_BODY, INNER_NOT_FOUND, ApiError
from reconciler.emulator.store.base import bad, require
from reconciler.emulator.store.instances import Instance, Instances
from reconciler.model.json import JSON

__all__ = ["STANDARD_RISKS", "AddonPrechecks", "AddonTask", "Risk"]

STANDARD_RISKS = ("K8sResourceModified", "AddonValidate", "AddonStatus")


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


class AddonPrechecks(Instances):
    """Add-on precheck tasks; ``addon_tasks`` is set up by ``Store``."""

    addon_tasks: dict[str, list[AddonTask]]

    def create_addon_precheck(self, cluster_id: str, body: JSON, now: float) -> tuple[
            dict[str, JSON], list[AddonTask]]:
        cluster = self.cluster(cluster_id)
        if not isinstance(body, Mapping):
            raise bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "spec", "spec.clusterID"):
            require(body, path)
        spec = body["spec"]
        if spec["clusterID"] != cluster_id:
            raise bad(f"spec.clusterID {spec['clusterID']} does not match the path "
                       f"cluster {cluster_id}")
        addon_list = spec.get("addonList")
        if not isinstance(addon_list, list) or not addon_list:
            raise bad("spec.addonList is required", INNER_BAD_BODY)
        planned: list[tuple[dict[str, JSON], Instance, str]] = []
        for i, item in enumerate(addon_list):
            if not isinstance(item, Mapping):
                raise bad(f"spec.addonList[{i}] must be an object", INNER_BAD_BODY)
            for key in ("addonTemplateName", "addonInstanceID", "type"):
                if not item.get(key):
                    raise bad(f"spec.addonList[{i}].{key} is required", INNER_BAD_BODY)
            if item["type"] not in ("addonUpgrade", "addonStatic"):
                raise bad(f"spec.addonList[{i}].type must be addonUpgrade or addonStatic")
            inst = self.get_instance(str(item["addonInstanceID"]), now)
            if inst.cluster_id != cluster_id or inst.template != item["addonTemplateName"]:
                raise ApiError(404, "CCE.03404001",
                               f"addon instance {inst.id} ({item['addonTemplateName']}) not found "
                               f"in cluster {cluster_id}", INNER_NOT_FOUND)
            target = item.get("targetVersion") or ""
            if item["type"] == "addonUpgrade":
                if not target:
                    raise bad(f"spec.addonList[{i}].targetVersion is required for addonUpgrade",
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
        cluster = self.clusters.get(inst.cluster_id)
        labels = cluster.labels if cluster is not None else {}
        for rule in self.scenario.precheck_rules:
            if rule.matches(inst.template, inst.cluster_id, check_type, target, inst.status,
                            labels):
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
