"""Fingerprint of the live instances a plan was computed from (DESIGN 4.3).

Pure: no I/O. A saved plan stores it per cluster; apply re-reads the live
instances and refuses the plan if the fingerprint moved (someone changed the
cluster in between).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from reconciler.model.live import IN_PROGRESS_STATUSES, AddonInstance

__all__ = ["fingerprint_instances"]


def fingerprint_instances(instances: Sequence[AddonInstance]) -> str:
    """sha256 (hex) of each instance's uid, version, status and values,
    independent of the order the API listed them in.

    An operation in flight counts as the ``running`` it is heading for: CCE
    reports its target version and values from the start, and a plan made
    during it (which apply waits for) must not go stale just because it
    finished. One that fails changes the status, and the plan is stale."""
    records = sorted(
        ([i.uid, i.template_name, i.version, _settling(i.status.status), i.values]
         for i in instances),
        key=lambda r: (r[0], r[1], r[2], r[3]),
    )
    canonical = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=_freeze)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _settling(status: str) -> str:
    return "running" if status in IN_PROGRESS_STATUSES else status


def _freeze(value: object) -> object:
    # values are read-only Mappings / tuples when built by the cloud layer
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
