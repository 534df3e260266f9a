"""Render the store's objects in the exact wire shapes of docs/cce-api.md.

The client parses these shapes in ``reconciler.cloud.wire``; this module
writes them from the reference on its own, on purpose. The emulator is an
independent oracle: sharing the client's wire code would make a misread field
agree with itself and pass every test."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from reconciler.emulator.scenario import ClusterSpec, TemplateSpec, TemplateVersionSpec
from reconciler.emulator.store import AddonTask, ClusterTask, Instance, Store
from reconciler.model.json import JSON

__all__ = [
    "addon_task",
    "cluster",
    "cluster_task",
    "instance",
    "rfc3339",
    "template",
    "template_version",
]

_EPOCH_STAMP = "2024-06-01T00:00:00Z"


def rfc3339(ts: float, micros: bool = False) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00" if micros else "%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def template_version(tv: TemplateVersionSpec) -> dict[str, JSON]:
    """Built once per version and shared: callers must not mutate it."""
    return {
        "version": tv.version,
        "input": tv.input,
        "stable": tv.stable,
        "translate": {"en_US": {"addon": {"changeLog": "", "description": ""},
                                "description": {}, "key": {}}},
        "supportVersions": list(tv.support_versions),
        "creationTimestamp": _EPOCH_STAMP,
        "updateTimestamp": _EPOCH_STAMP,
    }


def template(t: TemplateSpec) -> dict[str, JSON]:
    return {
        "kind": "Addon",
        "apiVersion": "v3",
        "metadata": {"uid": t.name, "name": t.name, "alias": t.alias, "labels": {},
                     "annotations": {}, "creationTimestamp": _EPOCH_STAMP,
                     "updateTimestamp": _EPOCH_STAMP},
        "spec": {"type": t.type, "require": t.require, "labels": list(t.labels),
                 "logoURL": t.logo_url, "readmeURL": "", "description": t.description,
                 "versions": [template_version(v) for v in t.versions]},
    }


def instance(store: Store, inst: Instance) -> dict[str, JSON]:
    t = store.templates[inst.template]
    tv = t.version(inst.version)
    return {
        "kind": "Addon",
        "apiVersion": "v3",
        "metadata": {"uid": inst.id, "name": inst.template, "alias": t.alias, "labels": {},
                     "annotations": {}, "creationTimestamp": rfc3339(inst.created),
                     "updateTimestamp": rfc3339(inst.updated)},
        "spec": {"clusterID": inst.cluster_id, "version": inst.version,
                 "addonTemplateName": inst.template, "addonTemplateType": t.type,
                 "addonTemplateLogo": t.logo_url, "addonTemplateLabels": list(t.labels),
                 "description": t.description, "values": inst.values},
        "status": {"status": inst.status, "Reason": inst.reason, "message": inst.message,
                   "targetVersions": store.target_versions(inst),
                   "currentVersion": template_version(tv) if tv is not None else None,
                   "isRollbackable": inst.is_rollbackable,
                   "previousVersion": inst.previous_version},
    }


def addon_task(store: Store, task: AddonTask, now: float) -> dict[str, JSON]:
    phase = store.addon_task_phase(task, now)
    terminal = phase in ("Success", "Failed")
    metadata = {"type": task.type, "taskID": task.task_id, "addonTemplateName": task.template,
                "addonInstanceName": f"cceaddon-{task.template}",
                "addonInstanceID": task.instance_id,
                "createTimeStamp": rfc3339(task.created, micros=True)}
    if terminal:
        metadata["expireTimeStamp"] = rfc3339(store.addon_task_expiry(task), micros=True)
    risks = []
    for r in task.risks:
        entry = {"riskName": r.name, "level": r.level,
                 "status": ("Failed" if r.fails else "Success") if terminal else phase}
        if terminal and r.fails:
            entry["message"] = r.message
        risks.append(entry)
    status: dict[str, JSON] = {"status": phase, "riskList": risks}
    if terminal:
        status["message"] = "Addon task check finish"
    return {"metadata": metadata, "spec": {"addonTargetVersion": task.target_version},
            "status": status}


def _item(name: str, group: str, phase: str, level: str = "Info", message: str = "",
          kind: str = "Risk", addon_risks: list[dict[str, str]] | None = None) -> dict[str, JSON]:
    risk_source: dict[str, JSON] = {"configurationRisks": [], "deprecatedAPIRisks": [],
                                    "nodeRisks": [], "addonRisks": addon_risks or []}
    return {"name": name, "kind": kind, "group": group, "level": level, "phase": phase,
            "message": message,
            "riskSource": risk_source,
            "errorCodes": []}


def cluster_task(store: Store, task: ClusterTask, now: float,
                 metadata_uid_only: bool = False) -> dict[str, JSON]:
    phase = store.cluster_task_phase(task, now)
    terminal = phase in ("Success", "Failed")
    cluster_spec = store.clusters[task.cluster_id]
    cluster_check: dict[str, JSON]
    addon_check: dict[str, JSON]
    if phase == "Init":
        sub: dict[str, JSON] = {"phase": "Init", "itemsStatus": []}
        cluster_check, addon_check = sub, dict(sub)
        node_check: dict[str, JSON] = {"phase": "Init", "nodeStageStatus": []}
    else:
        cluster_check = {"phase": "Success", "itemsStatus": [
            _item("ClusterVersionCheck", "LimitCheck", "Success"),
            _item("MasterStatusCheck", "MasterCheck", "Success")]}
        if terminal:
            items = [_item("AddonVersionCheck", "AddonCheck", "Failed", "Fatal",
                           f"addon {r['addonTemplateName']} {r['version']} does not support "
                           f"cluster version {task.target_version}; upgrade it first",
                           kind="Exception",
                           addon_risks=[{"addonTemplateName": r["addonTemplateName"],
                                         "alias": r["alias"]}])
                     for r in task.addon_risks]
            if not items:
                items = [_item("AddonVersionCheck", "AddonCheck", "Success")]
            addon_check = {"phase": "Failed" if task.addon_risks else "Success",
                           "itemsStatus": items}
        else:
            addon_check = {"phase": "Running", "itemsStatus": []}
        node_check = {"phase": "Success" if terminal else "Running", "nodeStageStatus": [
            {"nodeInfo": {"uid": n.uid, "name": n.name, "status": "Active", "nodeType": "node"},
             "itemsStatus": [_item("NodeStatusCheck", "NodeCheck",
                                   "Success" if terminal else "Running")]}
            for n in cluster_spec.nodes]}
    metadata: dict[str, JSON] = {"uid": task.uid}
    if not metadata_uid_only:
        metadata["creationTimestamp"] = rfc3339(task.created)
        metadata["updateTimestamp"] = rfc3339(task.created)
    return {
        "apiVersion": "v3",
        "kind": "PreCheckTask",
        "metadata": metadata,
        "spec": task.spec,
        "status": {"phase": phase, "expireTimeStamp": rfc3339(store.cluster_task_expiry(task)),
                   "message": "", "clusterCheckStatus": cluster_check,
                   "addonCheckStatus": addon_check, "nodeCheckStatus": node_check},
    }


def cluster(c: ClusterSpec) -> dict[str, JSON]:
    return {
        "kind": "Cluster",
        "apiVersion": "v3",
        # CCE returns the cluster's labels in its metadata (a map of strings).
        "metadata": {"uid": c.id, "name": c.name, "labels": dict(c.labels),
                     "creationTimestamp": _EPOCH_STAMP, "updateTimestamp": _EPOCH_STAMP},
        "spec": {"version": c.version, "platformVersion": c.platform_version,
                 "category": c.category, "type": c.type, "flavor": "cce.s2.small"},
        "status": {"phase": c.phase},
    }
