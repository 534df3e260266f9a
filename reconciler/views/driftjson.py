"""The canonical JSON drift report (documented in docs/drift.md).

Every other drift view (text, Markdown, Prometheus) is rendered from this
form, so what a human reads and what alerting scrapes can't disagree.
Sensitive value changes carry no ``before``/``after`` at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.drift import AddonDrift, ClusterDrift, DriftReport
from reconciler.model.json import JSON
from reconciler.model.plan import FieldChange, PrecheckFinding

__all__ = ["DRIFT_FORMAT", "DRIFT_FORMAT_VERSION", "drift_to_json", "dumps_drift_json"]

DRIFT_FORMAT = "reconciler-drift"
DRIFT_FORMAT_VERSION = 2
"""Bumped on any change a consumer could notice other than an added key."""


def drift_to_json(report: DriftReport) -> dict[str, JSON]:
    clusters = [_cluster(c) for c in report.clusters]
    return {
        "format": DRIFT_FORMAT,
        "format_version": DRIFT_FORMAT_VERSION,
        "tool_version": report.tool_version,
        "generated_at": report.generated_at,
        "inspected": report.inspected,
        "drifted": report.drifted,
        "errored": report.has_errors,
        "summary": {
            "clusters": len(clusters),
            "clean": sum(1 for c in clusters if c["status"] == "clean"),
            "drifted": sum(1 for c in clusters if c["status"] == "drifted"),
            "error": sum(1 for c in clusters if c["status"] == "error"),
        },
        "clusters": clusters,
    }


def dumps_drift_json(data: Mapping[str, JSON]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def _cluster(cluster: ClusterDrift) -> dict[str, JSON]:
    status = "error" if cluster.errors else "drifted" if cluster.drifted else "clean"
    return {
        "name": cluster.name,
        "cluster_id": cluster.cluster_id,
        "endpoint": cluster.endpoint,
        # Added keys (no format_version bump): a fleet's alerts group by them.
        "labels": dict(sorted(cluster.labels.items())),
        "wave": cluster.wave,
        "status": status,
        "errors": [_diagnostic(d) for d in cluster.errors],
        "warnings": [_diagnostic(d) for d in cluster.warnings],
        "addons": [_addon(a) for a in cluster.addons],
    }


def _diagnostic(d: Diagnostic) -> dict[str, JSON]:
    return {
        "severity": d.severity,
        "location": f"{d.file}:{d.line}:{d.column}" if d.file else "",
        "key_path": d.key_path,
        "message": d.message,
        "hint": d.hint,
    }


def _addon(a: AddonDrift) -> dict[str, JSON]:
    return {
        "addon": a.addon,
        "kinds": [k.value for k in a.kinds],
        "declared": a.declared,
        "managed": a.managed,
        "state": {"version": a.state_version, "uid": a.state_uid} if a.managed else None,
        "live": {
            "version": a.live_version,
            "uid": a.live_uid,
            "status": a.status,
            "reason": a.status_reason,
            "message": a.status_message,
            "healthy": a.healthy,
        } if a.live_uid else None,
        "changed_outside": {
            "version": {"before": a.state_version, "after": a.live_version}
            if a.managed and a.live_uid and a.state_version != a.live_version else None,
            "values": _changes(a.value_changes),
        },
        "pending": {
            "action": a.pending_action,
            "reason": a.pending_reason,
            "values": _changes(a.pending_changes),
        } if a.pending_action else None,
        "risks": [_risk(r) for r in a.risks],
    }


def _changes(changes: Sequence[FieldChange]) -> list[dict[str, JSON]]:
    out = []
    for c in changes:
        item: dict[str, JSON] = {"path": c.path, "kind": c.kind.value, "sensitive": c.sensitive}
        if not c.sensitive:
            item["before"] = c.before
            item["after"] = c.after
        out.append(item)
    return out


def _risk(r: PrecheckFinding) -> dict[str, JSON]:
    return {"name": r.risk, "level": r.level, "message": r.message, "task_id": r.task_id}
