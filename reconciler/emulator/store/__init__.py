"""The emulator's state and its rules: pure, no I/O, time passed in.

Time is lazy: an operation records when it started (``clock()`` seconds) and
its outcome is derived from the elapsed time when read, scaled by
``time_scale``. Reading settles finished operations, which is deterministic,
so a reloaded state file gives the same answers.

This re-implements CCE's behaviour on purpose (version choice, value merging,
status transitions, precheck risks) and shares none of the client's code: the
emulator is an independent oracle, so a misreading of the API in the client
shows up as a failing test instead of being mirrored by the server.

One module per resource: ``instances`` (install/upgrade/rollback/delete),
``addon_prechecks``, ``cluster_prechecks``; ``base`` holds the scenario, the
clock arithmetic and the lookups they share. :class:`Store` puts them together.
"""

from __future__ import annotations

from reconciler.emulator.scenario import Scenario
from reconciler.emulator.store.addon_prechecks import AddonPrechecks, AddonTask, Risk
from reconciler.emulator.store.base import version_key
from reconciler.emulator.store.cluster_prechecks import ClusterPrechecks, ClusterTask
from reconciler.emulator.store.instances import Instance, Operation

__all__ = [
    "AddonTask",
    "ClusterTask",
    "Instance",
    "Operation",
    "Risk",
    "Store",
    "version_key",
]


class Store(AddonPrechecks, ClusterPrechecks):
    """Instances, add-on prechecks and cluster prechecks of one emulated project."""

    def __init__(self, scenario: Scenario, project_id: str, time_scale: float = 1.0) -> None:
        super().__init__(scenario, project_id, time_scale)
        self.instances: dict[str, Instance] = {}
        self.by_cluster: dict[str, dict[str, Instance]] = {c: {} for c in self.clusters}
        self.addon_tasks: dict[str, list[AddonTask]] = {}
        self.cluster_tasks: dict[str, list[ClusterTask]] = {}
