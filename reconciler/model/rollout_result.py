"""What a rollout did, wave by wave (data only: views/rollout.py writes its text).

``run.rollout`` fills it; the apply result of every cluster that ran is kept
beside it in ``apply``, so the usual apply summary and JSON still hold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from reconciler.model.apply import ApplyResult

__all__ = [
    "ClusterFailure",
    "RolloutProgress",
    "RolloutResult",
    "RolloutStop",
    "SoakOutcome",
    "WaveResult",
    "WaveStatus",
]


class WaveStatus(enum.StrEnum):
    PASSED = "passed"
    HALTED = "halted"
    """Its gate failed: the rollout stopped here."""
    NOT_STARTED = "not started"


class SoakOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NONE = "none"
    """Nothing in the wave changed (or awaited its gate): nothing to soak."""
    NOT_RUN = "not run"
    """The wave already had more failures than it tolerates, or never started."""


@dataclass(frozen=True)
class ClusterFailure:
    """Why one cluster of a wave counts against its ``max_failures``."""

    cluster: str
    addon: str
    """The add-on that failed or was blocked; "" when the cluster was not applied at all."""
    reason: str
    during_soak: bool = False


@dataclass(frozen=True)
class WaveResult:
    name: str
    status: WaveStatus
    clusters: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    """Clusters whose add-ons were written in this run, or re-soaked after an
    interrupted run (their change still awaited its gate)."""
    failures: tuple[ClusterFailure, ...] = ()
    held_back: tuple[str, ...] = ()
    """Clusters with changes not started because the wave's failures already
    exceeded ``max_failures`` (they count as not applied, not as failed)."""
    max_failures: int = 0
    soak_s: float = 0.0
    soak: SoakOutcome = SoakOutcome.NOT_RUN
    elapsed_s: float = 0.0

    @property
    def failed_clusters(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.cluster for f in self.failures))


class RolloutStop(enum.StrEnum):
    COMPLETED = "completed"
    """Every wave passed."""
    HALTED = "halted"
    PAUSED = "paused"
    """``pause: manual`` or ``--pause``: stopped after a passed wave."""
    UNTIL_WAVE = "stopped at --wave"
    """``--wave NAME`` was reached."""


@dataclass(frozen=True)
class RolloutResult:
    waves: tuple[WaveResult, ...]
    stop: RolloutStop
    apply: ApplyResult
    """Every cluster that ran, in wave order."""
    next_wave: str = ""
    """The first wave not run ("" when completed)."""
    resume_command: str = ""
    """What to run to go on (set by the command, which knows how it was invoked)."""

    @property
    def ok(self) -> bool:
        """Exit 0: no halt, and no cluster failed (a failure a wave tolerated,
        in its apply or its soak, still exits 1 at the end so that it is not
        missed)."""
        return (self.stop is not RolloutStop.HALTED and self.apply.ok
                and not any(w.failures for w in self.waves))

    @property
    def halted_wave(self) -> WaveResult | None:
        return next((w for w in self.waves if w.status is WaveStatus.HALTED), None)


class RolloutProgress(Protocol):
    """Where a rollout reports its waves as they go (views implement it: lines on stderr)."""

    def wave_started(self, wave: str, clusters: int, changing: int, parallel: int) -> None: ...

    def soak_started(self, wave: str, clusters: int, addons: int, soak_s: float) -> None: ...

    def wave_done(self, result: WaveResult) -> None: ...
