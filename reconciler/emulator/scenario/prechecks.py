"""Scenario precheck rules: which add-on prechecks report which risks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.emulator.scenario.clusters import ClusterSpec, cluster_ref
from reconciler.emulator.scenario.reader import Reader, read_regex, read_selector
from reconciler.kit.selectors import Selector

__all__ = ["PrecheckRule", "read_precheck_rule"]


@dataclass(frozen=True)
class PrecheckRule:
    """Makes the add-on precheck of matching instances report ``risk`` as Failed."""

    template: str
    risk: str
    level: str = "Warning"
    message: str = ""
    cluster_id: str | None = None
    check_type: str | None = None
    """``addonUpgrade`` or ``addonStatic``; None matches both."""
    target_version: str | None = None
    """Regex on the task's target version; None matches any."""
    instance_status: tuple[str, ...] | None = None
    cluster_labels: Selector | None = None
    """Only clusters whose scenario ``labels`` match; None: any cluster."""

    def matches(self, template: str, cluster_id: str, check_type: str, target: str,
                status: str, labels: Mapping[str, str]) -> bool:
        return (
            self.template == template
            and self.cluster_id in (None, cluster_id)
            and (self.cluster_labels is None or self.cluster_labels.matches(labels))
            and self.check_type in (None, check_type)
            and (self.target_version is None
                 or re.fullmatch(self.target_version, target) is not None)
            and (self.instance_status is None or status in self.instance_status)
        )


def read_precheck_rule(r: Reader, clusters: dict[str, ClusterSpec]) -> PrecheckRule:
    r.check_keys({"template", "cluster", "cluster_labels", "check_type", "target_version",
                  "instance_status", "risk", "level", "message"})
    level: str = r.get("level", str, "Warning")
    if level not in ("Warning", "Fatal"):
        r.fail("must be Warning or Fatal", "level")
    check_type: str | None = r.get("check_type", str, None)
    if check_type not in (None, "addonUpgrade", "addonStatic"):
        r.fail("must be addonUpgrade or addonStatic", "check_type")
    statuses = r.get("instance_status", (list, str), None)
    return PrecheckRule(
        template=r.get("template", str, required=True),
        risk=r.get("risk", str, required=True),
        level=level,
        message=r.get("message", str, ""),
        cluster_id=cluster_ref(r, clusters),
        cluster_labels=read_selector(r, "cluster_labels"),
        check_type=check_type,
        target_version=read_regex(r, "target_version"),
        instance_status=None if statuses is None else tuple(
            [statuses] if isinstance(statuses, str) else statuses
        ),
    )
