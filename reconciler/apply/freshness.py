"""Is a plan still true? And giving a saved plan its secrets back.

A plan is bound to the state it was computed from (lineage + serial) and to
the live instances it read (their fingerprint). Apply re-reads both, under the
cluster's lock, and refuses a plan that no longer describes reality. The
template catalogue is deliberately not part of it: a version constraint
(``latest``) was resolved at plan time into ``after_version``, and a newer
template version published since neither makes the plan stale nor is
installed: the version reviewed is the version applied (docs/plan-json.md).

A saved plan holds only the leaves that came from ``secret()`` as salted
hashes; every other leaf travels in it as planned. Apply re-reads each secret
from its environment variable, rebuilds the leaf from its template
(``Change.secret_templates``: ``Bearer ${T}``, one leaf of a list, several
secrets in one string) and checks the result against the plan's hash. A hashed
leaf without a template (a plan written by an older version) is taken back
from the live instance when its hash matches. Pure: the environment is passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from reconciler.engine import fingerprint_instances, paths
from reconciler.model import valuepaths
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance
from reconciler.model.plan import Action, Change, ClusterPlan
from reconciler.model.secret_template import fill_template, template_names
from reconciler.model.sensitive import is_redacted, sensitive_hash
from reconciler.model.state import StateFile

__all__ = ["foreign_instances", "restore_sensitive", "stale_reasons", "with_real_values"]


def stale_reasons(
    plan: ClusterPlan, state: StateFile | None, instances: Sequence[AddonInstance],
    plan_salt: str | None = None,
) -> list[str]:
    """Why ``plan`` no longer matches the cluster (empty: still fresh).
    ``plan_salt`` as for ``with_real_values``: it keys the live fingerprint."""
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
    key = _salt(plan, state, plan_salt or plan.salt or None) or ""
    # A plan saved before fingerprints were keyed carries the unkeyed one.
    same = fingerprint_instances(instances, key) == plan.live_fingerprint or (
        bool(key) and fingerprint_instances(instances) == plan.live_fingerprint)
    if not same:
        reasons.append(f"cluster {plan.name}: its live add-ons changed since the plan")
    reasons += foreign_instances(plan, instances)
    return reasons


def foreign_instances(plan: ClusterPlan, instances: Sequence[AddonInstance]) -> list[str]:
    """Changes naming an instance the live read of this cluster did not return
    as that add-on. The planner takes every id from that read, so such a plan
    was edited: its delete could name another cluster's add-on (a 404 here
    while the add-on keeps running there) or a different add-on of this one."""
    live = {i.uid: i.template_name for i in instances}
    problems = []
    for change in plan.changes:
        # NOOP and REFRESH send nothing (REFRESH may forget an instance that is gone).
        if not change.instance_id or change.action in (Action.NOOP, Action.REFRESH):
            continue
        found = live.get(change.instance_id)
        if found is None:
            problems.append(
                f"cluster {plan.name}: {change.addon}: the plan names instance"
                f" {change.instance_id}, which is not an add-on of this cluster")
        elif found != change.addon:
            problems.append(
                f"cluster {plan.name}: {change.addon}: the plan names instance"
                f" {change.instance_id}, which is this cluster's {found}")
    return problems


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
    salt = _salt(plan, state, plan_salt)
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
            secret_templates=change.secret_templates,
            salt=salt,
            environ=environ,
            live_values=instance.values if instance else None,
        )
        problems += [f"cluster {plan.name}: {change.addon}: {p}" for p in found]
        changes.append(dataclasses.replace(change, values=values))
    return changes, problems


def _salt(plan: ClusterPlan, state: StateFile | None, plan_salt: str | None) -> str | None:
    """The salt the plan's fingerprints were made with: its state's, when it
    was made from one; else the plan's own (a first-run cluster's)."""
    return state.salt if state is not None and plan.state_lineage else plan_salt


def restore_sensitive(
    values: Mapping[str, JSON],
    *,
    secret_sources: Mapping[str, tuple[str, ...]],
    secret_templates: Mapping[str, str] | None = None,
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
    # List items too: a secret() may be one item of a list, hashed alone.
    for path, leaf in list(valuepaths.leaves(values)):
        if not is_redacted(leaf):
            continue
        segments = paths.resolve(restored, path)
        if segments is None:
            continue
        real, problem = _real_value(path, leaf, secret_sources, secret_templates or {}, salt,
                                    environ, live_values)
        if problem:
            problems.append(problem)
        else:
            paths.put(restored, segments, real)
    return restored, problems


def _real_value(
    path: str,
    hashed: str,
    secret_sources: Mapping[str, tuple[str, ...]],
    secret_templates: Mapping[str, str],
    salt: str | None,
    environ: Mapping[str, str],
    live_values: Mapping[str, JSON] | None,
) -> tuple[JSON, str]:
    names = secret_sources.get(path)
    template = secret_templates.get(path)
    if template is None and names is not None and len(names) == 1:
        template = "${" + names[0].replace("}", "") + "}"  # a plan from before templates
    if template is not None:
        wanted = template_names(template) or names or ()
        missing = [n for n in wanted if n not in environ]
        if missing:
            return None, (f"the secret {missing[0]} (for {path}) is not set in the environment")
        value = fill_template(template, environ)
        if salt is not None and sensitive_hash(value, salt) != hashed:
            return None, f"the secret {', '.join(wanted)} (for {path}) changed since the plan"
        return value, ""
    if live_values is not None:
        segments = paths.resolve(live_values, path)
        if segments is not None:
            live = paths.get(live_values, segments)
            if salt is None or sensitive_hash(live, salt) == hashed:
                return live, ""
    inside = sorted({n for p, ns in secret_sources.items()
                     if valuepaths.covers(path, p) for n in ns})
    what = f"built from secrets ({', '.join(inside)})" if inside else "hashed"
    return None, (f"the value at {path} is {what} and cannot be restored from this saved plan "
                  "(re-create it with this reconciler, or apply the files instead)")
