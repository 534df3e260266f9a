"""The Prometheus text-format view of a drift report (for node_exporter's
text-file collector), from the report's canonical JSON.

Every add-on gets a 0/1 sample per drift kind, so an alert on ``== 1``
resolves by itself once the drift is gone, and health per live add-on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from reconciler.model.json import JSON

__all__ = ["METRICS", "render_drift_prometheus", "render_failed_run_prometheus"]


_KINDS = ("version", "values", "missing", "recreated", "unmanaged", "pending", "unhealthy",
          "in-progress")

METRICS = {
    "reconciler_addon_drift": "1 if the add-on shows this kind of drift (kind: version, values, "
    "missing, recreated, unmanaged, pending, unhealthy, in-progress, risk), else 0.",
    "reconciler_addon_healthy": "1 if the live add-on is running or available, else 0.",
    "reconciler_addon_risk": "1 for each failed check of the running add-on inspection "
    "(drift --inspect).",
    "reconciler_cluster_drifted": "1 if any add-on of the cluster drifted, else 0.",
    "reconciler_drift_success": "1 if the cluster could be checked, else 0 (without a cluster"
    " label: the run failed before it knew its clusters).",
    "reconciler_drift_last_run_timestamp_seconds": "When the drift check ran (Unix time).",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    shown = str(int(value)) if float(value).is_integer() else repr(value)
    return f"{name}{{{inner}}} {shown}" if inner else f"{name} {shown}"


def _family(name: str, samples: Sequence[str]) -> list[str]:
    return [f"# HELP {name} {METRICS[name]}", f"# TYPE {name} gauge", *samples]


def render_drift_prometheus(report: Mapping[str, JSON]) -> str:
    kinds = (*_KINDS, "risk") if report["inspected"] else _KINDS
    drift: list[str] = []
    healthy: list[str] = []
    risks: list[str] = []
    drifted: list[str] = []
    success: list[str] = []
    for c in report["clusters"]:
        cluster = c["name"]
        success.append(_sample("reconciler_drift_success", {"cluster": cluster},
                               0 if c["errors"] else 1))
        if c["status"] == "error":
            continue  # unknown is not clean: no drift samples for an unchecked cluster
        drifted.append(_sample("reconciler_cluster_drifted", {"cluster": cluster},
                               1 if c["status"] == "drifted" else 0))
        for a in c["addons"]:
            labels = {"cluster": cluster, "addon": a["addon"]}
            drift.extend(
                _sample("reconciler_addon_drift", {**labels, "kind": kind},
                        1 if kind in a["kinds"] else 0)
                for kind in kinds
            )
            if a["live"] is not None:
                healthy.append(_sample("reconciler_addon_healthy", labels,
                                       1 if a["live"]["healthy"] else 0))
            risks.extend(
                _sample("reconciler_addon_risk",
                        {**labels, "risk": r["name"], "level": r["level"]}, 1)
                for r in a["risks"]
            )
    stamp = datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00")).timestamp()
    lines = [
        *_family("reconciler_addon_drift", drift),
        *_family("reconciler_addon_healthy", healthy),
        *_family("reconciler_addon_risk", risks),
        *_family("reconciler_cluster_drifted", drifted),
        *_family("reconciler_drift_success", success),
        *_family("reconciler_drift_last_run_timestamp_seconds",
                 [_sample("reconciler_drift_last_run_timestamp_seconds", {}, stamp)]),
    ]
    return "\n".join(lines)


def render_failed_run_prometheus(clusters: Sequence[str], stamp: float) -> str:
    """The metrics of a drift run that failed before it had a report (bad input,
    no state, the cloud unreachable): ``reconciler_drift_success 0`` for each
    cluster it was to check, or once without a label when the files could not
    even be read, and the run's time. Cron keeps a file that says "not checked"
    instead of yesterday's, so the success alert fires."""
    success = ([_sample("reconciler_drift_success", {"cluster": c}, 0) for c in clusters]
               or [_sample("reconciler_drift_success", {}, 0)])
    lines = [
        *_family("reconciler_drift_success", success),
        *_family("reconciler_drift_last_run_timestamp_seconds",
                 [_sample("reconciler_drift_last_run_timestamp_seconds", {}, stamp)]),
    ]
    return "\n".join(lines)
