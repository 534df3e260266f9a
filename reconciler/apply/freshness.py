"""Is a plan still true? And giving a saved plan its secrets back.

A plan is bound to the state it was computed from (lineage + serial) and to
the live instances it read (their fingerprint). Apply re-reads both, under the
cluster's lock, and refuses a plan that no longer describes reality.

A saved plan holds sensitive leaves only as salted hashes. Apply re-reads each
``secret()`` from its environment variable (``Change.secret_sources``) and
checks that its hash is still the plan's; other hashed leaves (keys that look
secret) are taken back from the live instance when their hash matches.
Pure: the environment is passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from reconciler.engine import fingerprint_instances, paths
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance
from reconciler.model.plan import Action, Change, ClusterPlan
from reconciler.model.sensitive import is_redacted, sensitive_hash
from reconciler.model.state import StateFile

__all__ = ["restore_sensitive", "stale_reasons", "with_real_values"]


def stale_reasons(
    plan: ClusterPlan, state: StateFile | None, instances: Sequence[AddonInstance]
) -> list[str]:
    """Why ``plan`` no longer matches the cluster (empty: still fresh)."""
    reasons = []
    lineage = state.lineage if state else ""
    serial = state.serial if state else 0
    if lineage != plan.state_lineage:
        reasons.append(
            f"cluster {plan.name}: the state lineage changed "
            f"(plan: {plan.state_lineage or 'no state'}, now: {lineage or 'no state'})"
        )
    elif serial != plan.state_serial:
        reasons.append(
            f"cluster {plan.name}: the state was written since the plan "
            f"(serial {plan.state_serial} → {serial})"
        )
    if fingerprint_instances(instances) != plan.live_fingerprint:
        reasons.append(f"cluster {plan.name}: its live add-ons changed since the plan")
    return reasons


def with_real_values(
    plan: ClusterPlan,
    state: StateFile | None,
    live: Mapping[str, AddonInstance],
    plan_salt: str | None,
    environ: Mapping[str, str],
) -> tuple[list[Change], list[str]]:
    """The changes to execute, sensitive values restored, and the problems met.

    A plan made in this process still holds its secrets and passes through
    unchanged. ``plan_salt`` is the salt the plan was made with when known;
    for a saved plan it is its state's (a plan made before the cluster had a
    state used a salt that was never stored, so its hashes can't be checked).
    """
    salt = state.salt if state is not None and plan.state_lineage else plan_salt
    changes: list[Change] = []
    problems: list[str] = []
    for change in plan.changes:
        if change.action is Action.NOOP:
            changes.append(change)
            continue
        instance = live.get(change.addon)
        values, found = restore_sensitive(
            change.values,
            secret_sources=change.secret_sources,
            salt=salt,
            environ=environ,
            live_values=instance.values if instance else None,
        )
        problems += [f"cluster {plan.name}: {change.addon}: {p}" for p in found]
        changes.append(dataclasses.replace(change, values=values))
    return changes, problems


def restore_sensitive(
    values: Mapping[str, JSON],
    *,
    secret_sources: Mapping[str, tuple[str, ...]],
    salt: str | None,
    environ: Mapping[str, str],
    live_values: Mapping[str, JSON] | None,
) -> tuple[dict[str, JSON], list[str]]:
    """``values`` with every hashed leaf replaced by its real value, and the
    problems met (a secret unset or changed, a value that can't be recovered).

    ``salt`` is None when the plan was made before the cluster had a state:
    its salt was never stored, so hashes can't be checked, only refilled.
    """
    restored = paths.copy_json(dict(values))
    problems: list[str] = []
    for path, leaf in list(paths.leaves(values)):
        if not is_redacted(leaf):
            continue
        segments = paths.resolve(restored, path)
        if segments is None:
            continue
        real, problem = _real_value(path, leaf, secret_sources, salt, environ, live_values)
        if problem:
            problems.append(problem)
        else:
            paths.put(restored, segments, real)
    return restored, problems


def _real_value(
    path: str,
    hashed: str,
    secret_sources: Mapping[str, tuple[str, ...]],
    salt: str | None,
    environ: Mapping[str, str],
    live_values: Mapping[str, JSON] | None,
) -> tuple[JSON, str]:
    names = secret_sources.get(path)
    inside = sorted({n for p, ns in secret_sources.items() if paths.covers(path, p) for n in ns})
    if names is None and inside:
        # A list holding a secret item is hashed as a whole: its other items are gone.
        return None, (
            f"{path} holds secrets ({', '.join(inside)}); "
            "a saved plan can't rebuild it: apply the files instead"
        )
    if names is not None:
        if len(names) != 1:
            return None, (
                f"{path} is built from several secrets ({', '.join(names)}); "
                "a saved plan can't rebuild it: apply the files instead"
            )
        value = environ.get(names[0])
        if value is None:
            return None, f"the secret {names[0]} (for {path}) is not set in the environment"
        if salt is not None and sensitive_hash(value, salt) != hashed:
            return None, f"the secret {names[0]} (for {path}) changed since the plan"
        return value, ""
    if live_values is not None:
        segments = paths.resolve(live_values, path)
        if segments is not None:
            live = paths.get(live_values, segments)
            if salt is None or sensitive_hash(live, salt) == hashed:
                return live, ""
    return None, f"the sensitive value at {path} changed since the plan"
