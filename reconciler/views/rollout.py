"""The text of a rollout: progress lines per wave, the report, its JSON.

``apply`` prints the report before its usual summary (the apply result of
every cluster that ran is still there; ``rollout_summary`` makes that last line
agree with the report), and ``--format json`` adds it to the result document
under ``"rollout"``.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.rollout_result import (
    RolloutResult,
    RolloutStop,
    SoakOutcome,
    WaveResult,
    WaveStatus,
)
from reconciler.views.apply import apply_summary
from reconciler.views.progress import TimedLines

__all__ = ["WaveLines", "rollout_headline", "rollout_json", "rollout_summary", "rollout_text"]


def _clusters(n: int) -> str:
    return f"{n} cluster" + ("" if n == 1 else "s")


def _soak(w: WaveResult) -> str:
    if w.soak is SoakOutcome.NONE:
        return "nothing to soak"
    if w.soak is SoakOutcome.NOT_RUN:
        return "soak not run"
    if not w.soak_s:
        return "healthy, no soak" if w.soak is SoakOutcome.PASSED else "unhealthy"
    return f"soak {w.soak_s:g}s {w.soak.value}"


def _wave_line(w: WaveResult, result: RolloutResult) -> str:
    status = w.status.value
    if result.stop is RolloutStop.PAUSED and result.next_wave and w is _last_run(result):
        status = "passed, paused"
    if w.status is WaveStatus.NOT_STARTED:
        return f"  {w.name}: {status} ({_clusters(len(w.clusters))})"
    parts = [_clusters(len(w.clusters)), f"{len(w.changed)} changed",
             f"{len(w.failed_clusters)} failed (at most {w.max_failures} tolerated)"]
    if w.held_back:
        parts.append(f"{len(w.held_back)} not started once the budget was spent")
    parts.append(_soak(w))
    return f"  {w.name}: {status} ({', '.join(parts)})"


def _last_run(result: RolloutResult) -> WaveResult | None:
    run = [w for w in result.waves if w.status is not WaveStatus.NOT_STARTED]
    return run[-1] if run else None


def rollout_headline(result: RolloutResult) -> str:
    """One line: how the rollout ended."""
    last = _last_run(result)
    passed = sum(1 for w in result.waves if w.status is WaveStatus.PASSED)
    if result.stop is RolloutStop.COMPLETED:
        return f"Rollout complete: {passed} of {len(result.waves)} waves passed."
    if result.stop is RolloutStop.HALTED:
        return f"Rollout halted at wave {result.next_wave}: later waves were not started."
    name = last.name if last else ""
    why = "paused" if result.stop is RolloutStop.PAUSED else "stopped (--wave)"
    return f"Wave {name} passed; rollout {why} before wave {result.next_wave}."


def _how_to_go_on(result: RolloutResult) -> str:
    command = result.resume_command or "the same apply again"
    if result.stop is RolloutStop.HALTED:
        return (f"To resume: fix the cause, then run {command}\n"
                "(passed waves have nothing left to change and pass at once; wave"
                f" {result.next_wave} is retried)")
    if result.stop in (RolloutStop.PAUSED, RolloutStop.UNTIL_WAVE):
        return f"To continue with wave {result.next_wave}: {command}"
    return ""


def rollout_text(result: RolloutResult) -> str:
    """The rollout report (newline-terminated lines): a headline, one line per
    wave, each failure with its add-on and reason, and how to go on."""
    lines = [rollout_headline(result), "Waves:"]
    for w in result.waves:
        lines.append(_wave_line(w, result))
        for f in w.failures:
            where = f"{f.cluster}/{f.addon}" if f.addon else f.cluster
            lines.append(f"    - {where}: {f.reason}")
    advice = _how_to_go_on(result)
    if advice:
        lines.append(advice)
    return "".join(line + "\n" for line in lines)


def rollout_summary(result: RolloutResult) -> str:
    """The apply's last line after the report (no newline). The apply's counts
    alone miss what the soak found (a re-soak writes nothing), so a halted
    rollout would end on "Apply complete: … 0 failed": the line says halted,
    how many of the wave's clusters failed, and counts soak failures as failed."""
    soak_failed = sum(1 for w in result.waves for f in w.failures if f.during_soak)
    halted = result.halted_wave
    if halted is not None:
        verdict = (f"Apply halted at wave {halted.name}, {len(halted.failed_clusters)} of"
                   f" {_clusters(len(halted.clusters))} failed (at most"
                   f" {halted.max_failures} tolerated)")
    else:
        failed = {c for w in result.waves for c in w.failed_clusters}
        verdict = (f"Apply finished, {_clusters(len(failed))} failed (tolerated by"
                   " max_failures)") if failed else ""
    # A cluster a wave counted as failed before it wrote anything (its plan was
    # stale, it could not be read) is failed here too, not only "not applied".
    cluster_failed = len({f.cluster for w in result.waves for f in w.failures
                          if not f.addon and not f.during_soak})
    held_back = sum(len(w.held_back) for w in result.waves)
    return apply_summary(result.apply, verdict=verdict, soak_failed=soak_failed,
                         cluster_failed=cluster_failed, held_back=held_back)


def rollout_json(result: RolloutResult) -> dict[str, Any]:
    """The ``"rollout"`` member of apply's JSON result (key order is part of it)."""
    return {
        "stop": result.stop.value,
        "next_wave": result.next_wave,
        "resume_command": result.resume_command,
        "waves": [
            {
                "name": w.name,
                "status": w.status.value,
                "clusters": list(w.clusters),
                "changed": list(w.changed),
                "failed": list(w.failed_clusters),
                "held_back": list(w.held_back),
                "max_failures": w.max_failures,
                "soak_s": w.soak_s,
                "soak": w.soak.value,
                "elapsed_s": round(w.elapsed_s, 3),
                "failures": [
                    {"cluster": f.cluster, "addon": f.addon, "reason": f.reason,
                     "during_soak": f.during_soak}
                    for f in w.failures
                ],
            }
            for w in result.waves
        ],
    }


class WaveLines(TimedLines):
    """``RolloutProgress`` as plain lines (stderr), timed like the apply's log lines."""

    def wave_started(self, wave: str, clusters: int, changing: int, parallel: int) -> None:
        self._emit(f"wave {wave}: starting: {_clusters(clusters)}, {changing} with changes,"
                   f" at most {parallel} at once")

    def soak_started(self, wave: str, clusters: int, addons: int, soak_s: float) -> None:
        if not soak_s:
            self._emit(f"wave {wave}: checking {addons} add-on(s) on {_clusters(clusters)}"
                       " are healthy (no soak)")
            return
        self._emit(f"wave {wave}: soaking {addons} add-on(s) on {_clusters(clusters)}"
                   f" for {soak_s:g}s")

    def wave_done(self, result: WaveResult) -> None:
        failed = len(result.failed_clusters)
        self._emit(f"wave {result.name}: {result.status.value}"
                   f" ({failed} failed, at most {result.max_failures} tolerated; {_soak(result)})")
