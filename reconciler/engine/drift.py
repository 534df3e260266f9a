"""Drift (docs/drift.md): how far each cluster has moved from what was applied.

Pure: no I/O, no clock. Drift is a plan mode, not a second engine: the caller
refreshes live state and plans as ``plan`` does, and this module reads the
same inputs plus the resulting ``ClusterPlan`` to say, per add-on:

- ``version`` / ``values``: *changed outside* — live differs from the state's
  last applied version or values (per-key diff, state → live; sensitive
  leaves compared by their salted hash, never shown);
- ``missing``: in the state file, gone live;
- ``recreated``: live, but with another uid than the state recorded;
- ``unmanaged``: live, neither declared nor in the state file;
- ``pending``: the plan would act on it (desired ≠ what runs);
- ``unhealthy``: live status is not running/available, nor an operation in flight;
- ``in-progress``: an operation (install, upgrade, rollback, delete) is in flight;
- ``risk``: a failed check of the server's running-add-on inspection
  (``drift --inspect``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.engine import checks, secrets
from reconciler.engine.diff import diff_values
from reconciler.engine.secrets import hash_at
from reconciler.engine.values import defaults_for
from reconciler.model.desired import AddonSpec, ClusterSpec
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.drift import AddonDrift, ClusterDrift, DriftKind
from reconciler.model.live import (
    IN_PROGRESS_STATUSES,
    READY_STATUSES,
    AddonInstance,
    AddonTemplate,
    LiveCluster,
)
from reconciler.model.plan import Action, Change, ClusterPlan, FieldChange, PrecheckFinding
from reconciler.model.sensitive import is_redacted
from reconciler.model.state import ManagedAddon, StateFile

__all__ = ["changed_values", "cluster_drift"]


@dataclass
class _Inputs:
    declared: AddonSpec | None
    recorded: ManagedAddon | None
    instance: AddonInstance | None
    kinds: list[DriftKind] = field(default_factory=list)


def cluster_drift(
    spec: ClusterSpec,
    live: LiveCluster | Diagnostic | None,
    templates: Mapping[str, AddonTemplate],
    state: StateFile | None,
    plan: ClusterPlan | None,
    *,
    risks: Mapping[str, Sequence[PrecheckFinding]] | None = None,
) -> ClusterDrift:
    """The drift of one cluster. ``plan`` is the cluster's plan over the same
    ``live`` and ``state`` (its non-no-op changes are the pending ones);
    ``risks`` are the inspection's failed checks by add-on. Pure."""
    header = ClusterDrift(name=spec.name, cluster_id=spec.cluster_id, endpoint=spec.endpoint,
                          labels=dict(spec.labels), wave=plan.wave if plan else "")
    if not isinstance(live, LiveCluster):
        problem = live or Diagnostic(file="", line=0, column=0, key_path=f"clusters.{spec.name}",
                                     message="the cluster was not read")
        return _with_plan_errors(header, plan, first=(problem,))
    instances: dict[str, AddonInstance] = {}
    for instance in live.instances:
        instances.setdefault(instance.template_name, instance)
    recorded = dict(state.addons) if state else {}
    declared_names = [a.name for a in spec.addons]
    others = sorted((set(recorded) | set(instances)) - set(declared_names))
    changes = {c.addon: c for c in plan.changes} if plan else {}
    salt = state.salt if state else ""
    found = []
    for name in [*declared_names, *others]:
        inputs = _Inputs(spec.addon(name), recorded.get(name), instances.get(name))
        found.append(_addon_drift(name, inputs, templates, salt, changes.get(name),
                                  tuple((risks or {}).get(name, ()))))
    waiting = _waiting(spec, instances, plan)
    return _with_plan_errors(replace(header, addons=tuple(found)), plan, first=(),
                             waiting=waiting)


def _with_plan_errors(cluster: ClusterDrift, plan: ClusterPlan | None,
                      first: tuple[Diagnostic, ...],
                      waiting: frozenset[Diagnostic] = frozenset()) -> ClusterDrift:
    """Plan diagnostics carry over: an error (a bad declaration) fails the run
    as it fails a plan; a warning is shown. A ``waiting`` error (a change
    held back by an operation in flight) is a warning here: drift writes
    nothing, so nothing failed; the add-on shows ``in-progress``."""
    found = plan.errors if plan else ()
    errors = first + tuple(d for d in found
                           if d.severity == "error" and d not in first and d not in waiting)
    warnings = tuple(replace(d, severity=Severity.WARNING) if d in waiting else d
                     for d in found if d.severity != "error" or d in waiting)
    return replace(cluster, errors=errors, warnings=warnings)


def _waiting(spec: ClusterSpec, instances: Mapping[str, AddonInstance],
             plan: ClusterPlan | None) -> frozenset[Diagnostic]:
    """The plan's "cannot ACTION: the live instance is upgrading" errors, matched
    exactly (rebuilt with ``checks.mid_operation``), not by their wording."""
    if plan is None or not plan.errors:
        return frozenset()
    found: set[Diagnostic] = set()
    for addon in spec.addons:
        instance = instances.get(addon.name)
        if instance is None or instance.status.status not in IN_PROGRESS_STATUSES:
            continue
        found.update(checks.mid_operation(spec, addon, instance.status.status, action.value)
                     for action in Action)
    return frozenset(found)


def _addon_drift(name: str, inputs: _Inputs, templates: Mapping[str, AddonTemplate], salt: str,
                 change: Change | None, risks: tuple[PrecheckFinding, ...]) -> AddonDrift:
    recorded, instance, declared = inputs.recorded, inputs.instance, inputs.declared
    kinds: list[DriftKind] = []
    value_changes: tuple[FieldChange, ...] = ()
    if recorded is not None and instance is None:
        kinds.append(DriftKind.MISSING)
    elif recorded is not None and instance is not None:
        if recorded.uid and recorded.uid != instance.uid:
            kinds.append(DriftKind.RECREATED)
        else:
            if recorded.version != instance.version:
                kinds.append(DriftKind.VERSION)
            value_changes = changed_values(
                recorded, instance, templates.get(name),
                ignore=declared.ignore_changes if declared else (), salt=salt,
                declared=declared)
            if value_changes:
                kinds.append(DriftKind.VALUES)
    elif instance is not None and declared is None:
        kinds.append(DriftKind.UNMANAGED)
    # A refresh is the state catching up with live: the version/values kinds
    # already say so, and nothing is pending against the cloud.
    pending = (change if change is not None
               and change.action not in (Action.NOOP, Action.REFRESH) else None)
    if pending:
        kinds.append(DriftKind.PENDING)
    if instance is not None and instance.status.status in IN_PROGRESS_STATUSES:
        kinds.append(DriftKind.IN_PROGRESS)
    elif instance is not None and instance.status.status not in READY_STATUSES:
        kinds.append(DriftKind.UNHEALTHY)
    failed = tuple(r for r in risks if r.status == "Failed")
    if failed:
        kinds.append(DriftKind.RISK)
    return AddonDrift(
        addon=name,
        kinds=tuple(kinds),
        declared=declared is not None,
        managed=recorded is not None,
        state_version=recorded.version if recorded else "",
        state_uid=recorded.uid if recorded else "",
        live_version=instance.version if instance else "",
        live_uid=instance.uid if instance else "",
        status=instance.status.status if instance else "",
        status_reason=instance.status.reason if instance else "",
        status_message=instance.status.message if instance else "",
        value_changes=value_changes,
        pending_action=pending.action.value if pending else "",
        pending_reason=pending.reason if pending else "",
        pending_changes=pending.field_changes if pending else (),
        risks=failed,
    )


def changed_values(recorded: ManagedAddon, instance: AddonInstance,
                   template: AddonTemplate | None, *, ignore: Sequence[str],
                   salt: str, declared: AddonSpec | None = None) -> tuple[FieldChange, ...]:
    """State → live value changes. Live leaves at the state's sensitive paths
    are hashed with the state's salt first, so a secret compares by hash and
    its value never enters the result. Which other leaves are hidden is the
    one rule (``model.sensitive``), with the declaration's lists when known."""
    live = dict(hash_at(instance.values, recorded.sensitive_paths, salt))
    rules = secrets.rules_for(declared, recorded)
    version = template.version(recorded.version) if template else None
    schema = (defaults_for(version, instance.values, AddonSpec(name=recorded.name)).values
              if version else None)
    found = diff_values(recorded.values, live, ignore=ignore, sensitive=rules,
                        schema=schema, salt=salt)
    return tuple(
        FieldChange(path=c.path, kind=c.kind, sensitive=True)
        if c.sensitive or is_redacted(c.before) or is_redacted(c.after) else c
        for c in found
    )


