"""Add-on instances: install, upgrade, rollback, delete, and their lazy settling."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.emulator.errors import INNER_BAD_BODY, INNER_NOT_FOUND, ApiError
from reconciler.emulator.scenario import (
    ClusterSpec,
    TemplateSpec,
    TemplateVersionSpec,
    deep_merge,
    default_values,
)
from reconciler.emulator.store.base import StoreBase, bad, require, version_key
from reconciler.model.json import JSON

__all__ = ["IN_PROGRESS", "ROLLBACK_FROM", "Instance", "Instances", "Operation"]

IN_PROGRESS = {"install": "installing", "upgrade": "upgrading", "rollback": "rollbacking",
               "delete": "deleting"}


ROLLBACK_FROM = {"running", "available", "abnormal", "upgradeFailed", "rollbackFailed"}


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
    running_since: float | None = None
    """When the instance last became ``running`` (``clock()`` seconds; seeds:
    when the emulator started), None while an operation runs or for seeds in
    another status. Abnormal rules count from it."""


class Instances(StoreBase):
    """The instance half of the store; ``instances``/``by_cluster`` are set up by ``Store``."""

    instances: dict[str, Instance]
    by_cluster: dict[str, dict[str, Instance]]

    def settle(self, inst: Instance, now: float) -> Instance | None:
        """Finish ``inst``'s operation if its time is up, then apply the abnormal
        rules; None once deleted."""
        op = inst.op
        if op is not None:
            if self.elapsed(op.started, now) < self._duration(op.kind):
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
                inst.running_since = finished_at
        if inst.running_since is not None and (self.scenario.abnormal_rules
                                               or inst.status == "abnormal"):
            self._apply_abnormal_rules(inst, now)
        return inst

    def _apply_abnormal_rules(self, inst: Instance, now: float) -> None:
        """``abnormal`` once a matching rule's time since ``running_since`` is up;
        back to ``running`` when no rule matches any more (the rules file was
        edited: ``serve --rules`` re-reads it). Derived on read, like every
        lifecycle here, so a reloaded state file gives the same answer."""
        assert inst.running_since is not None
        cluster = self.clusters.get(inst.cluster_id)
        labels = cluster.labels if cluster is not None else {}
        rule = next((r for r in self.scenario.abnormal_rules
                     if r.matches(inst.template, inst.cluster_id, inst.version, labels)), None)
        if rule is not None and self.elapsed(inst.running_since, now) >= rule.after_s:
            wanted = ("abnormal", rule.reason, rule.message_for(inst.version))
            if (inst.status, inst.reason, inst.message) != wanted:
                inst.status, inst.reason, inst.message = wanted
                inst.updated = inst.running_since + rule.after_s / self.time_scale
        elif inst.status == "abnormal":
            inst.status, inst.reason, inst.message, inst.updated = "running", "", "", now

    def add(self, inst: Instance) -> None:
        self.instances[inst.id] = inst
        self.by_cluster.setdefault(inst.cluster_id, {})[inst.id] = inst

    def _remove(self, inst: Instance) -> None:
        self.instances.pop(inst.id, None)
        self.by_cluster.get(inst.cluster_id, {}).pop(inst.id, None)

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

    @staticmethod
    def _check_available(cluster: ClusterSpec) -> None:
        if cluster.phase != "Available":
            raise bad(f"cluster {cluster.id} is not Available (phase {cluster.phase})")

    @staticmethod
    def _check_idle(inst: Instance) -> None:
        if inst.op is not None:
            raise bad(f"addon instance {inst.id} is {inst.status}: wait for the running "
                       "operation to finish")

    def _full_values(self, template: TemplateSpec, tv: TemplateVersionSpec,
                     values: JSON) -> dict[str, JSON]:
        if not isinstance(values, Mapping):
            raise bad("spec.values must be an object", INNER_BAD_BODY)
        if template.custom_required and not values.get("custom"):
            raise bad("custom values are not defined")
        # Like the real service: whatever is omitted falls back to the template default.
        return deep_merge(default_values(tv), values)

    def _failure(self, template: str, cluster_id: str, operation: str,
                 version: str) -> tuple[bool, str, str]:
        cluster = self.clusters.get(cluster_id)
        labels = cluster.labels if cluster is not None else {}
        for rule in self.scenario.failure_rules:
            if rule.matches(template, cluster_id, operation, version, labels):
                return True, rule.reason, rule.message
        return False, "", ""

    def _start(self, inst: Instance, kind: str, now: float, version: str = "") -> None:
        fails, reason, message = (self._failure(inst.template, inst.cluster_id, kind, version)
                                  if kind in ("install", "upgrade") else (False, "", ""))
        inst.op = Operation(kind, now, fails, reason, message)
        inst.status, inst.reason, inst.message, inst.updated = IN_PROGRESS[kind], "", "", now
        inst.running_since = None

    def create_instance(self, body: JSON, now: float) -> Instance:
        if not isinstance(body, Mapping):
            raise bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "metadata", "spec", "spec.clusterID",
                     "spec.addonTemplateName"):
            require(body, path)
        spec = body["spec"]
        if "values" not in spec or spec["values"] is None:
            raise bad("spec.values is required", INNER_BAD_BODY)
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
            raise bad("request body must be a JSON object", INNER_BAD_BODY)
        for path in ("kind", "apiVersion", "metadata", "spec", "spec.clusterID",
                     "spec.addonTemplateName", "spec.version"):
            require(body, path)
        spec = body["spec"]
        if "values" not in spec or spec["values"] is None:
            raise bad("spec.values is required", INNER_BAD_BODY)
        inst = self.get_instance(instance_id, now)
        if spec["clusterID"] != inst.cluster_id:
            raise bad(f"addon instance {inst.id} does not belong to cluster {spec['clusterID']}")
        if spec["addonTemplateName"] != inst.template:
            raise bad(f"addon instance {inst.id} is a {inst.template}, not a "
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
            raise bad("request body must be a JSON object", INNER_BAD_BODY)
        cluster_id = require(body, "clusterID")
        inst = self.get_instance(instance_id, now)
        if cluster_id != inst.cluster_id:
            raise bad(f"addon instance {inst.id} does not belong to cluster {cluster_id}")
        self._check_available(self.cluster(inst.cluster_id))
        self._check_idle(inst)
        if not inst.is_rollbackable or not inst.previous_version:
            raise bad(f"addon instance {inst.id} is not rollbackable")
        if inst.status not in ROLLBACK_FROM:
            raise bad(f"addon instance {inst.id} cannot be rolled back while {inst.status}")
        inst.version, inst.previous_version = inst.previous_version, inst.version
        if inst.previous_values is not None:
            inst.values, inst.previous_values = inst.previous_values, inst.values
        inst.is_rollbackable = False
        self._start(inst, "rollback", now)
        return inst
