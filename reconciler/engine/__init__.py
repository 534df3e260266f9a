"""The engine: pure functions from desired, live and state data to a plan.

No I/O anywhere in this package: no httpx, no filesystem, no clock, no
randomness. Modules:

- ``values``: full values (docs/planning.md) with per-leaf provenance;
- ``normalise``: what "the same value" means when comparing;
- ``diff``: live vs full values as ``FieldChange``s (the only deepdiff user);
- ``secrets``: which leaves are sensitive, and their redacted form;
- ``checks``: plan-time checks as diagnostics;
- ``order``: apply order (``depends_on``, then file order);
- ``fingerprint``: the live-instances fingerprint a saved plan is bound to;
- ``constraints``: a version constraint (``latest``, ``~1.30``) resolved per cluster;
- ``planner``: ``plan_changes`` (docs/actions.md), ``cluster_waves``;
- ``replan``: what is left of a change once an operation in flight settled.
"""

from __future__ import annotations

from reconciler.engine.diff import diff_values
from reconciler.engine.fingerprint import fingerprint_instances
from reconciler.engine.normalise import normalise
from reconciler.engine.planner import cluster_waves, plan_changes
from reconciler.engine.values import FullValues, full_values

__all__ = [
    "FullValues",
    "cluster_waves",
    "diff_values",
    "fingerprint_instances",
    "full_values",
    "normalise",
    "plan_changes",
]
