"""A fleet rollout: the ``rollout:`` block's waves and which wave each cluster is in.

Built by ``reconciler.config`` from the files, carried by a ``Plan`` (a saved
plan pins its waves) and followed by ``reconciler.run`` when applying: waves
in order, each gated on health held for its ``soak`` and on its failure budget.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.kit.selectors import ClusterPattern, parse_pattern
from reconciler.model.desired import SourceLocation

__all__ = ["PauseMode", "Rollout", "Wave", "assign_waves"]


class PauseMode(enum.StrEnum):
    NONE = "none"
    """Run every wave whose predecessor passed its gate."""
    MANUAL = "manual"
    """Stop (exit 0) after each passed wave; the next run goes on."""


@dataclass(frozen=True)
class Wave:
    name: str
    clusters: tuple[str, ...] = ()
    """Names, globs or selectors as written; empty: every cluster no other wave names."""
    soak_s: float = 0.0
    """Every add-on the wave changed must stay healthy this long before the next wave."""
    max_parallel: int | None = None
    """Clusters applied at once in this wave; None: the run's ``--parallelism``."""
    max_failures: int = 0
    """Failed or blocked clusters tolerated before the rollout halts."""
    location: SourceLocation | None = None

    @property
    def patterns(self) -> tuple[ClusterPattern, ...]:
        # Validated when the files were read: parse_pattern cannot fail here.
        return tuple(parse_pattern(text) for text in self.clusters)

    @property
    def catches_rest(self) -> bool:
        return not self.clusters


@dataclass(frozen=True)
class Rollout:
    waves: tuple[Wave, ...]
    pause: PauseMode = PauseMode.NONE

    def wave(self, name: str) -> Wave | None:
        return next((w for w in self.waves if w.name == name), None)


def assign_waves(rollout: Rollout, clusters: Iterable[tuple[str, Mapping[str, str]]]
                 ) -> dict[str, str]:
    """Cluster name → wave name: the first wave whose patterns match the cluster,
    else the wave without ``clusters:`` (if any). A cluster in no wave is left out
    (config reports that as an error before a plan is made)."""
    explicit = [(w, w.patterns) for w in rollout.waves if not w.catches_rest]
    rest = next((w for w in rollout.waves if w.catches_rest), None)
    found: dict[str, str] = {}
    for name, labels in clusters:
        wave = next((w for w, patterns in explicit
                     if any(p.matches(name, labels) for p in patterns)), rest)
        if wave is not None:
            found[name] = wave.name
    return found
