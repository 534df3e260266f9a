"""Wire JSON ⇄ the typed live model (``reconciler.model.live``).

Reading is tolerant where the documentation's examples disagree with its tables
(REFERENCE §1.5, §9): ``items`` as an array or a single object,
``createTimestamp`` or ``createTimeStamp``, ``riskList`` inside or beside
``status``, ``targetVersions: null``, and any unknown extra field. Missing
fields take the model's defaults. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model.json import JSON
from reconciler.model.live import (
    AddonInstance,
    AddonPrecheckTask,
    AddonTemplate,
    CheckItem,
    CheckStatus,
    Cluster,
    ClusterPrecheckTask,
    InstanceStatus,
    Risk,
    SupportVersion,
    TemplateVersion,
)

__all__ = [
    "PrecheckItem",
    "addon_precheck_body",
    "cluster_precheck_body",
    "instance_body",
    "items",
    "parse_addon_task",
    "parse_cluster",
    "parse_cluster_task",
    "parse_instance",
    "parse_template",
    "precheck_tasks_of_create",
]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class PrecheckItem:
    """One add-on of a batch add-on precheck (``spec.addonList[]``)."""

    template_name: str
    instance_id: str
    type: str = "addonUpgrade"
    """``addonUpgrade`` (needs ``target_version``) or ``addonStatic``."""
    target_version: str | None = None
    values: Mapping[str, JSON] | None = None


# --- small tolerant accessors -------------------------------------------------


def _obj(value: Any) -> Obj:
    # type() first: isinstance against the Mapping ABC is slow, and decoded JSON is dicts.
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def _s(obj: Obj, key: str) -> str:
    """``_str`` of one key: the read path calls it a dozen times per instance."""
    value = obj.get(key)
    if type(value) is str:
        return value
    return "" if value is None else str(value)


def _str(obj: Obj, *keys: str) -> str:
    """The first of ``keys`` present with a non-null value, as text."""
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return ""


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if v is not None)
    return ()


def items(value: Any) -> list[Obj]:
    """A list of objects from ``items`` given as an array, one object, or null."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [v for v in value if isinstance(v, Mapping)]
    return []


# --- reading ------------------------------------------------------------------


def parse_cluster(raw: Obj) -> Cluster:
    meta, spec, status = _obj(raw.get("metadata")), _obj(raw.get("spec")), _obj(raw.get("status"))
    return Cluster(
        id=_str(meta, "uid"),
        name=_str(meta, "name"),
        version=_str(spec, "version"),
        type=_str(spec, "type"),
        category=_str(spec, "category") or "CCE",
        phase=_str(status, "phase"),
        labels=_labels(meta.get("labels")),
    )


def _labels(raw: JSON) -> Mapping[str, str]:
    """``metadata.labels``: a map of strings; anything else in it is not a label."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


def _support_version(raw: Obj) -> SupportVersion:
    return SupportVersion(
        cluster_type=_str(raw, "clusterType"),
        cluster_versions=_strs(raw.get("clusterVersion")),
        categories=_strs(raw.get("category")),
    )


def _template_version(raw: Obj) -> TemplateVersion:
    stable = raw.get("stable")
    return TemplateVersion(
        version=_str(raw, "version"),
        input=_obj(raw.get("input")),
        stable=stable if isinstance(stable, bool) else True,
        support_versions=tuple(_support_version(sv) for sv in items(raw.get("supportVersions"))),
    )


def parse_template(raw: Obj) -> AddonTemplate:
    meta, spec = _obj(raw.get("metadata")), _obj(raw.get("spec"))
    return AddonTemplate(
        name=_str(meta, "name"),
        alias=_str(meta, "alias"),
        type=_str(spec, "type") or "helm",
        require=spec.get("require") is True,
        labels=_strs(spec.get("labels")),
        description=_str(spec, "description"),
        versions=tuple(_template_version(v) for v in items(spec.get("versions"))),
    )


def _current_version(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return _str(value, "version") or None
    return value if isinstance(value, str) and value else None


def parse_instance(raw: Obj) -> AddonInstance:
    meta, spec, status = _obj(raw.get("metadata")), _obj(raw.get("spec")), _obj(raw.get("status"))
    targets = status.get("targetVersions")
    return AddonInstance(
        uid=_s(meta, "uid"),
        name=_s(meta, "name"),
        cluster_id=_s(spec, "clusterID"),
        template_name=_s(spec, "addonTemplateName"),
        version=_s(spec, "version"),
        values=_obj(spec.get("values")),
        status=InstanceStatus(
            status=_s(status, "status"),
            reason=_str(status, "Reason", "reason"),
            message=_s(status, "message"),
            current_version=_current_version(status.get("currentVersion")),
            target_versions=None if targets is None else _strs(targets),
            is_rollbackable=status.get("isRollbackable") is True,
            previous_version=_s(status, "previousVersion"),
        ),
        created_at=_str(meta, "creationTimestamp", "creationTimeStamp"),
        updated_at=_str(meta, "updateTimestamp", "updateTimeStamp"),
    )


def _risk(raw: Obj) -> Risk:
    return Risk(
        name=_str(raw, "riskName", "name"),
        level=_str(raw, "level"),
        status=_str(raw, "status"),
        message=_str(raw, "message"),
    )


def parse_addon_task(raw: Obj) -> AddonPrecheckTask:
    meta, spec, status = _obj(raw.get("metadata")), _obj(raw.get("spec")), _obj(raw.get("status"))
    risks = status.get("riskList", raw.get("riskList"))
    return AddonPrecheckTask(
        task_id=_str(meta, "taskID", "taskId"),
        type=_str(meta, "type"),
        template_name=_str(meta, "addonTemplateName"),
        instance_id=_str(meta, "addonInstanceID", "addonInstanceId"),
        instance_name=_str(meta, "addonInstanceName"),
        target_version=_str(spec, "addonTargetVersion", "targetVersion"),
        status=_str(status, "status") or "Init",
        message=_str(status, "message"),
        risks=tuple(_risk(r) for r in items(risks)),
        created_at=_str(meta, "createTimeStamp", "createTimestamp", "creationTimestamp"),
        expires_at=_str(meta, "expireTimeStamp", "expireTimestamp"),
    )


def precheck_tasks_of_create(raw: Obj) -> list[AddonPrecheckTask]:
    """Tasks of a batch-create response: ``status.items`` (the docs), or ``items``."""
    status = _obj(raw.get("status"))
    found = status.get("items", raw.get("items"))
    return [parse_addon_task(t) for t in items(found)]


def _check_item(raw: Obj) -> CheckItem:
    source = _obj(raw.get("riskSource"))
    return CheckItem(
        name=_str(raw, "name"),
        kind=_str(raw, "kind"),
        group=_str(raw, "group"),
        level=_str(raw, "level"),
        phase=_str(raw, "phase"),
        message=_str(raw, "message"),
        addon_risks=tuple(_str(r, "addonTemplateName") for r in items(source.get("addonRisks"))),
        error_codes=_strs(raw.get("errorCodes")),
    )


def _check_status(raw: Any) -> CheckStatus:
    obj = _obj(raw)
    found = items(obj.get("itemsStatus"))
    for stage in items(obj.get("nodeStageStatus")):  # node checks nest items per node
        found.extend(items(stage.get("itemsStatus")))
    return CheckStatus(phase=_str(obj, "phase"), items=tuple(_check_item(i) for i in found))


def parse_cluster_task(raw: Obj) -> ClusterPrecheckTask:
    meta, spec, status = _obj(raw.get("metadata")), _obj(raw.get("spec")), _obj(raw.get("status"))
    return ClusterPrecheckTask(
        uid=_str(meta, "uid"),
        phase=_str(status, "phase") or "Init",
        cluster_version=_str(spec, "clusterVersion"),
        target_version=_str(spec, "targetVersion"),
        message=_str(status, "message"),
        created_at=_str(meta, "creationTimestamp", "creationTimeStamp"),
        expires_at=_str(status, "expireTimeStamp", "expireTimestamp"),
        cluster_check=_check_status(status.get("clusterCheckStatus")),
        addon_check=_check_status(status.get("addonCheckStatus")),
        node_check=_check_status(status.get("nodeCheckStatus")),
    )


# --- writing ------------------------------------------------------------------
# Keys in the SDK models' attribute order, so that our bodies are byte-identical
# to the SDK's for the same call.


def instance_body(
    *,
    cluster_id: str,
    template_name: str,
    version: str | None,
    values: Mapping[str, JSON],
    annotations: Mapping[str, str],
) -> dict[str, JSON]:
    """Body of an install (POST) or update (PUT): an ``InstanceRequest``."""
    spec: dict[str, JSON] = {"version": version} if version else {}
    spec.update(clusterID=cluster_id, values=dict(values), addonTemplateName=template_name)
    return {
        "kind": "Addon",
        "apiVersion": "v3",
        "metadata": {"annotations": dict(annotations)},
        "spec": spec,
    }


def addon_precheck_body(cluster_id: str, checks: Sequence[PrecheckItem]) -> dict[str, JSON]:
    addon_list: list[JSON] = []
    for check in checks:
        entry: dict[str, JSON] = {
            "addonTemplateName": check.template_name,
            "addonInstanceID": check.instance_id,
        }
        if check.target_version:
            entry["targetVersion"] = check.target_version
        entry["type"] = check.type
        if check.values is not None:
            entry["values"] = dict(check.values)
        addon_list.append(entry)
    return {
        "kind": "AddonCheck",
        "apiVersion": "v3",
        "spec": {"clusterID": cluster_id, "addonList": addon_list},
    }


def cluster_precheck_body(
    cluster_id: str, target_version: str, cluster_version: str | None
) -> dict[str, JSON]:
    spec: dict[str, JSON] = {"clusterID": cluster_id}
    if cluster_version:
        spec["clusterVersion"] = cluster_version
    spec["targetVersion"] = target_version
    return {"apiVersion": "v3", "kind": "PreCheckTask", "spec": spec}
