"""What a notification says: each event's JSON payload and its one-line text.

One message per run or per wave, never per cluster: the payloads list the
clusters concerned instead. Built from the result data only (names, counts,
outcomes, drift kinds): no values, no URLs, no credentials; ``notify.deliver``
masks the finished text once more. The payload's shape is
``notify.schema.json`` (docs/notifications.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.model.apply import ApplyResult, ApplyStopped, Outcome
from reconciler.model.drift import DriftKind, DriftReport
from reconciler.model.json import JSON
from reconciler.model.rollout_result import RolloutResult, WaveResult, WaveStatus

__all__ = [
    "PAYLOAD_SCHEMA_ID",
    "Notification",
    "apply_finished",
    "drift_notification",
    "wave_finished",
    "wave_started",
]

PAYLOAD_SCHEMA_ID = "reconciler.notification/v1"


@dataclass(frozen=True)
class Notification:
    event: str
    title: str
    """The one-line human text (chat title, mail subject)."""
    text: str
    """The human text in full (a few lines): the chat or mail body."""
    payload: dict[str, JSON]
    """The JSON document a webhook receives."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make(event: str, title: str, lines: list[str], fields: dict[str, JSON],
          now: str | None = None) -> Notification:
    payload: dict[str, JSON] = {"schema": PAYLOAD_SCHEMA_ID, "event": event,
                                "time": now or _now(), "tool_version": __version__,
                                "text": title, **fields}
    return Notification(event, title, "\n".join([title, *lines]), payload)


def _names(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def apply_finished(outcome: ApplyResult | RolloutResult | ApplyStopped) -> Notification | None:
    """``apply.finished``; None for an apply that had nothing to do or was declined."""
    if isinstance(outcome, ApplyStopped):
        if outcome.ok:
            return None
        title = f"reconciler apply stopped before any write: {outcome.reason.value}"
        return _make("apply.finished", title, [], {
            "ok": False, "stopped": outcome.reason.value, "plan_id": "",
            "counts": {"done": 0, "failed": 0, "blocked": 0, "skipped": 0},
            "failed_clusters": [], "blocked_clusters": [], "clusters": 0, "rollout": None})
    result = outcome.apply if isinstance(outcome, RolloutResult) else outcome
    ok = outcome.ok
    failed = sum(result.count(o) for o in (Outcome.FAILED, Outcome.ROLLED_BACK))
    blocked = result.count(Outcome.BLOCKED)
    skipped = result.count(Outcome.SKIPPED)
    done = sum(1 for c in result.clusters for r in c.addons if r.outcome.ok)
    # Held back by a wave whose failures were spent: not applied, not failed.
    held = ({n for w in outcome.waves for n in w.held_back}
            if isinstance(outcome, RolloutResult) else set())
    bad = (Outcome.FAILED, Outcome.ROLLED_BACK)
    failed_clusters = [c.name for c in result.clusters
                       if (c.error and c.name not in held)
                       or any(r.outcome in bad for r in c.addons)]
    blocked_clusters = [c.name for c in result.clusters
                        if any(r.outcome is Outcome.BLOCKED for r in c.addons)]
    rollout: JSON = None
    if isinstance(outcome, RolloutResult):
        halted = outcome.halted_wave
        rollout = {"stop": outcome.stop.value, "next_wave": outcome.next_wave,
                   "halted_wave": halted.name if halted else ""}
    verdict = "succeeded" if ok else "failed"
    title = (f"reconciler apply {verdict}: {done} done, {failed} failed, {blocked} blocked"
             f" on {len(result.clusters)} cluster{'' if len(result.clusters) == 1 else 's'}")
    lines = []
    if failed_clusters:
        lines.append(f"failed: {_names(failed_clusters)}")
    if blocked_clusters:
        lines.append(f"blocked: {_names(blocked_clusters)}")
    if isinstance(rollout, dict) and rollout["halted_wave"]:
        lines.append(f"rollout halted at wave {rollout['halted_wave']}")
    return _make("apply.finished", title, lines, {
        "ok": ok, "stopped": "", "plan_id": result.plan_id,
        "counts": {"done": done, "failed": failed, "blocked": blocked, "skipped": skipped},
        "failed_clusters": list(failed_clusters), "blocked_clusters": list(blocked_clusters),
        "clusters": len(result.clusters), "rollout": rollout})


def wave_started(wave: str, clusters: int, changing: int) -> Notification:
    title = f"reconciler rollout: wave {wave} started ({changing} of {clusters} clusters change)"
    return _make("wave.started", title, [],
                 {"wave": wave, "clusters": clusters, "changing": changing})


def wave_finished(result: WaveResult) -> Notification:
    """``wave.halted`` when its gate failed, else ``wave.done``."""
    halted = result.status is WaveStatus.HALTED
    failed = list(result.failed_clusters)
    fields: dict[str, JSON] = {
        "wave": result.name, "status": result.status.value,
        "clusters": len(result.clusters), "changed": list(result.changed),
        "failed_clusters": list(failed), "max_failures": result.max_failures,
        "soak": result.soak.value,
        "failures": [{"cluster": f.cluster, "addon": f.addon, "reason": f.reason,
                      "during_soak": f.during_soak} for f in result.failures]}
    if halted:
        title = (f"reconciler rollout HALTED at wave {result.name}: {len(failed)} cluster"
                 f"{'' if len(failed) == 1 else 's'} failed (at most {result.max_failures}"
                 " tolerated)")
        lines = [f"{f.cluster}/{f.addon}: {f.reason}" if f.addon else f"{f.cluster}: {f.reason}"
                 for f in result.failures[:10]]
        return _make("wave.halted", title, lines, fields)
    title = (f"reconciler rollout: wave {result.name} done ({len(result.changed)} changed,"
             f" {len(failed)} failed, soak {result.soak.value})")
    return _make("wave.done", title, [], fields)


def drift_notification(event: str, report: DriftReport, *, reminder: bool) -> Notification:
    """``drift.found`` / ``drift.changed`` / ``drift.cleared``: every drifted
    add-on and every cluster that could not be checked, in one message."""
    drifted: list[JSON] = []
    for cluster in report.clusters:
        for addon in cluster.addons:
            kinds = [k.value for k in addon.kinds if k is not DriftKind.UNMANAGED]
            if kinds:
                drifted.append({"cluster": cluster.name, "addon": addon.addon, "kinds": kinds})
    errored: list[JSON] = [{"cluster": c.name, "errors": len(c.errors)}
                           for c in report.clusters if c.errors]
    clusters = sorted({str(d["cluster"]) for d in drifted if isinstance(d, dict)})
    if event == "drift.cleared":
        title = f"reconciler drift cleared: {len(report.clusters)} clusters match the last apply"
    else:
        what = {"drift.found": "found", "drift.changed": "changed"}[event]
        title = (f"reconciler drift {what}{' (reminder)' if reminder else ''}:"
                 f" {len(drifted)} add-on{'' if len(drifted) == 1 else 's'} on"
                 f" {len(clusters)} cluster{'' if len(clusters) == 1 else 's'}")
        if errored:
            title += f"; {len(errored)} cluster{'' if len(errored) == 1 else 's'} not checked"
    lines = [f"{d['cluster']}/{d['addon']}: {', '.join(str(k) for k in d['kinds'])}"
             for d in drifted[:20]]
    if len(drifted) > 20:
        lines.append(f"… and {len(drifted) - 20} more")
    lines += [f"{e['cluster']}: could not be checked" for e in errored]
    return _make(event, title, lines, {
        "reminder": reminder, "clusters": len(report.clusters), "drifted": drifted,
        "errored": errored, "generated_at": report.generated_at}, now=None)
