"""Scenario abnormal rules: an add-on that turns ``abnormal`` some time after it
became healthy, as a bad version that crash-loops once it has rolled out does.

A rollout's soak exists to catch exactly this (the upgrade reports success,
the add-on fails later), so the emulator must be able to play it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.emulator.scenario.clusters import ClusterSpec, cluster_ref
from reconciler.emulator.scenario.reader import Reader, read_regex, read_selector
from reconciler.kit.selectors import Selector

__all__ = ["DEFAULT_ABNORMAL_REASON", "AbnormalRule", "read_abnormal_rule"]

DEFAULT_ABNORMAL_REASON = "AddonAbnormal"


@dataclass(frozen=True)
class AbnormalRule:
    """Matching instances read ``abnormal`` once they have been ``running`` for
    ``after_s`` emulated seconds (scaled by the time scale like every timing)."""

    template: str
    after_s: float
    reason: str = DEFAULT_ABNORMAL_REASON
    message: str = ""
    cluster_id: str | None = None
    cluster_labels: Selector | None = None
    version: str | None = None
    """Regex on the instance's version; None matches any."""

    def matches(self, template: str, cluster_id: str, version: str,
                labels: Mapping[str, str]) -> bool:
        return (
            self.template == template
            and self.cluster_id in (None, cluster_id)
            and (self.cluster_labels is None or self.cluster_labels.matches(labels))
            and (self.version is None or re.fullmatch(self.version, version) is not None)
        )

    def message_for(self, version: str) -> str:
        return self.message or (f"{self.template} {version} turned abnormal {self.after_s:g}s "
                                "after it became running (emulator abnormal rule)")


def read_abnormal_rule(r: Reader, clusters: dict[str, ClusterSpec]) -> AbnormalRule:
    r.check_keys({"template", "after_s", "version", "cluster", "cluster_labels", "reason",
                  "message"})
    after_s: float = r.get("after_s", float, required=True)
    if after_s < 0:
        r.fail("must be >= 0 (emulated seconds after the add-on became running)", "after_s")
    return AbnormalRule(
        template=r.get("template", str, required=True),
        after_s=after_s,
        reason=r.get("reason", str, DEFAULT_ABNORMAL_REASON),
        message=r.get("message", str, ""),
        cluster_id=cluster_ref(r, clusters),
        cluster_labels=read_selector(r, "cluster_labels"),
        version=read_regex(r, "version"),
    )
