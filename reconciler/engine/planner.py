"""The planner: (desired, live, state) → Plan (docs/actions.md). Pure: no I/O, no
clock, no randomness — the caller passes the plan id and reads everything.

Per declared add-on, the action is:

- ``state: absent``: ``delete`` if an instance is live (an error instead if
  ``protect: true``), else ``no-op``;
- no live instance: ``install`` (a *re*-install, said in the reason, when the
  state file still manages it: it was deleted out of band);
- live instance unhealthy (failed, abnormal or unknown: ``UNHEALTHY_STATUSES``):
  ``repair``, whatever the diff says (docs/actions.md);
- live version ≠ target version: ``upgrade``, or ``downgrade`` when the target
  is lower (the target is the declared version; none declared keeps the live
  one; a constraint such as ``latest`` or ``~1.30`` resolves per cluster to the
  newest fitting version, engine/constraints.py, so a newer one upgrades); a
  downgrade without ``allow_downgrade: true`` is planned *and* gets an
  error, so the plan shows it and apply refuses it (a repair back to the
  version a failed upgrade left, or of a failed install, is no downgrade);
- not in the cluster's state file (or the state records another uid: it was
  re-created out of band): ``adopt`` when values match; when they differ it is
  an ``update`` that also adopts (``Change.adopting``, as an upgrade of an
  unmanaged instance is): the action word says what apply sends;
  no state file at all is a first run, so everything live is adopted;
- values differ: ``update``;
- otherwise ``refresh`` when the state lags live (another version or values,
  as drift compares them: engine/refresh.py), else ``no-op``.

Live add-ons that aren't declared are ``unmanaged`` (or, when the state file
still records them, ``managed_undeclared``: kept) unless the cluster has
``prune: true``, which deletes them — except templates CCE marks ``require``
(coredns, everest …), which stay unmanaged with a warning.

The error rule: an add-on with any error-severity diagnostic gets **no**
``Change`` at all; its diagnostics go to ``ClusterPlan.errors``, which makes
the plan fail (exit 1) and apply refuse it. Add-ons without errors are
planned as usual so one mistake shows everything else that is wrong or due.
A write to an instance that is mid-operation (installing, upgrading, deleting,
rollbacking) is planned with a warning: apply waits for the operation, then
re-plans that add-on (engine/replan.py).

No-op changes carry no values (nothing is sent), which keeps a plan over
thousands of clusters small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from reconciler.engine import checks, secrets
from reconciler.engine.constraints import resolve_constraint
from reconciler.engine.diff import diff_values
from reconciler.engine.fingerprint import fingerprint_instances
from reconciler.engine.normalise import normalise
from reconciler.engine.order import apply_order
from reconciler.engine.refresh import refresh_change
from reconciler.engine.values import defaults_for, merge_layers, own_lists
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.json import JSON
from reconciler.model.live import (
    IN_PROGRESS_STATUSES,
    READY_STATUSES,
    UNHEALTHY_STATUSES,
    AddonInstance,
    AddonTemplate,
    Cluster,
    LiveCluster,
    TemplateVersion,
)
from reconciler.model.plan import Action, Change, ClusterPlan, Plan, ReadinessReport
from reconciler.model.rollout import assign_waves
from reconciler.model.state import StateFile

__all__ = ["cluster_waves", "declares_absent", "plan_changes", "target_version"]


def plan_changes(desired: DesiredState, live: Mapping[str, LiveCluster | Diagnostic],
                 templates: Mapping[str, AddonTemplate],
                 states: Mapping[str, StateFile | None], *, plan_id: str, tool_version: str,
                 salts: Mapping[str, str] | None = None) -> Plan:
    """The plan for every cluster of ``desired``. ``live`` and ``states`` are
    keyed by ``ClusterSpec.name``; a ``Diagnostic`` in ``live`` means the
    cluster could not be read and becomes that cluster's error. ``salts``
    (by cluster name) hash sensitive values; by default the state file's salt.
    Pure."""
    clusters = []
    waves = cluster_waves(desired)
    for spec in desired.clusters:
        state = states.get(spec.name)
        salt = (salts or {}).get(spec.name) or (state.salt if state else "")
        planned = _plan_cluster(spec, live.get(spec.name), templates, state, salt)
        clusters.append(replace(planned, wave=waves.get(spec.name, "")))
    return Plan(plan_id=plan_id, tool_version=tool_version, desired_digest=desired.digest,
                clusters=tuple(clusters), files=desired.files, rollout=desired.rollout)


def cluster_waves(desired: DesiredState) -> dict[str, str]:
    """Cluster name → its rollout wave, over the clusters of ``desired`` (those
    ``--cluster`` selected); empty without a ``rollout:`` block."""
    if desired.rollout is None:
        return {}
    return assign_waves(desired.rollout, ((s.name, s.labels) for s in desired.clusters))


@dataclass
class _Cluster:
    """What planning one cluster works from, and what it has found so far."""

    spec: ClusterSpec
    live: LiveCluster
    templates: Mapping[str, AddonTemplate]
    state: StateFile | None
    salt: str
    instances: dict[str, AddonInstance]
    changes: list[Change] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    unsupported_target: list[str] = field(default_factory=list)


def _plan_cluster(spec: ClusterSpec, live: LiveCluster | Diagnostic | None,
                  templates: Mapping[str, AddonTemplate], state: StateFile | None,
                  salt: str) -> ClusterPlan:
    header = ClusterPlan(
        name=spec.name, cluster_id=spec.cluster_id, endpoint=spec.endpoint,
        project_id=spec.project_id, region=spec.region,
        state_lineage=state.lineage if state else "", state_serial=state.serial if state else 0,
        labels=dict(spec.labels),
    )
    if not isinstance(live, LiveCluster):
        return replace(header, errors=(_unread(spec, live),))
    ctx = _Cluster(spec=spec, live=live, templates=templates, state=state, salt=salt,
                   instances=_by_template(live.instances))
    ctx.errors.extend(checks.dependency_problems(spec))
    for addon in spec.addons:
        _plan_addon(ctx, addon)
    unmanaged, kept = _plan_undeclared(ctx)
    if live.cluster.phase != "Available" and any(c.action is not Action.NOOP
                                                 for c in ctx.changes):
        ctx.errors.append(checks.diagnostic(
            spec, None, "", f"the cluster is {live.cluster.phase or 'in an unknown phase'}; "
            "CCE refuses add-on writes until it is Available", severity=Severity.WARNING))
    readiness = None
    if spec.upgrade_readiness is not None:
        readiness = ReadinessReport(target_version=spec.upgrade_readiness.target_version,
                                    unsupported_addons=tuple(ctx.unsupported_target))
    file_index = {a.name: i for i, a in enumerate(spec.addons)}
    return replace(
        header,
        kubernetes_version=live.cluster.version,
        live_fingerprint=fingerprint_instances(live.instances, ctx.salt),
        changes=apply_order(ctx.changes, file_index),
        unmanaged=tuple(unmanaged),
        managed_undeclared=tuple(kept),
        errors=tuple(ctx.errors),
        readiness=readiness,
    )


def _unread(spec: ClusterSpec, problem: Diagnostic | None) -> Diagnostic:
    """The reason a cluster could not be read, pointing at its block in the file."""
    located = checks.diagnostic(spec, None, "", problem.message if problem else
                                "the cluster was not read", problem.hint if problem else "")
    if problem is None or problem.file:
        return problem or located
    return located


def _by_template(instances: tuple[AddonInstance, ...]) -> dict[str, AddonInstance]:
    found: dict[str, AddonInstance] = {}
    for instance in instances:
        found.setdefault(instance.template_name, instance)
    return found


def _plan_addon(ctx: _Cluster, addon: AddonSpec) -> None:
    template = ctx.templates.get(addon.name)
    if template is None:
        ctx.errors.append(checks.unknown_template(ctx.spec, addon, ctx.templates))
        return
    instance = ctx.instances.get(addon.name)
    if addon.state == "absent":
        _plan_absent(ctx, addon, instance)
        return
    version = _target_version(ctx, addon, template, instance)
    if version is None:
        return
    _plan_present(ctx, addon, version, instance)


_ABSENT_NOT_INSTALLED = "declared absent and not installed"
_ABSENT_BEING_DELETED = "already being deleted"


def declares_absent(change: Change) -> bool:
    """``change`` takes its add-on away: a delete (``state: absent`` or
    ``prune``), or the no-op of one declared absent and already gone or going
    (a rollout does not soak those)."""
    return change.action is Action.DELETE or (
        change.action is Action.NOOP
        and change.reason in (_ABSENT_NOT_INSTALLED, _ABSENT_BEING_DELETED))


def _plan_absent(ctx: _Cluster, addon: AddonSpec, instance: AddonInstance | None) -> None:
    if instance is None:
        ctx.changes.append(_noop(addon, "", _ABSENT_NOT_INSTALLED))
        return
    if instance.status.status == "deleting":
        ctx.changes.append(_noop(addon, instance.version, _ABSENT_BEING_DELETED,
                                 instance.uid))
        return
    if addon.protect:
        ctx.errors.append(checks.diagnostic(
            ctx.spec, addon, "state",
            f"`{addon.name}` is protected (protect: true); refusing to delete it",
            "remove protect: true to allow the deletion, or drop state: absent"))
        return
    _warn_mid_operation(ctx, addon, instance, "delete")
    ctx.changes.append(Change(
        addon=addon.name, action=Action.DELETE, instance_id=instance.uid,
        before_version=instance.version, reason="declared state: absent",
        depends_on=addon.depends_on, on_failure=addon.on_failure,
        timeout_seconds=addon.timeout_seconds))


def _target_version(ctx: _Cluster, addon: AddonSpec, template: AddonTemplate,
                    instance: AddonInstance | None) -> TemplateVersion | None:
    """The version to run, after the existence and support checks (None: an error)."""
    cluster = ctx.live.cluster
    chosen, problems = target_version(ctx.spec, addon, template, cluster, instance)
    ctx.errors.extend(problems)
    if chosen is None:
        return None
    readiness = ctx.spec.upgrade_readiness
    if readiness is not None and chosen.support_versions and not chosen.supports(
            cluster.type, cluster.category, readiness.target_version):
        ctx.unsupported_target.append(f"{addon.name}@{chosen.version}")
    return chosen


def target_version(spec: ClusterSpec, addon: AddonSpec, template: AddonTemplate,
                   cluster: Cluster, instance: AddonInstance | None
                   ) -> tuple[TemplateVersion | None, list[Diagnostic]]:
    """The version ``addon`` runs on ``cluster`` once planned (None when it
    cannot: the diagnostics say why; a warning may come with a version)."""
    chosen: TemplateVersion | None
    if addon.version_constraint is not None:
        # Resolved per cluster, the newest fitting version even when live already
        # satisfies the constraint: `latest` means tracking the newest.
        resolved = resolve_constraint(spec, addon, template, cluster,
                                      addon.version_constraint)
        if isinstance(resolved, Diagnostic):
            return None, [resolved]
        chosen = resolved
    elif addon.version is not None:
        chosen = template.version(addon.version)
        if chosen is None:
            return None, [checks.unknown_version(spec, addon, template, cluster, addon.version)]
    elif instance is not None:
        chosen = template.version(instance.version)
        if chosen is None:
            # The catalog dropped the running version: its defaults are unknown,
            # but live values are complete, so keeping it is still safe.
            warning = checks.diagnostic(
                spec, addon, "version",
                f"live version {instance.version} of `{addon.name}` is no longer in the "
                "template catalog; planning without its defaults",
                f"pin one of: {checks.listing(checks.supporting_versions(template, cluster))}",
                severity=Severity.WARNING)
            return TemplateVersion(version=instance.version, input={}), [warning]
    else:
        chosen = checks.newest_supported_stable(template, cluster)
        if chosen is None:
            return None, [checks.no_installable_version(spec, addon, template, cluster)]
    changes_version = instance is None or instance.version != chosen.version
    if changes_version and not chosen.supports(cluster.type, cluster.category, cluster.version):
        return None, [checks.unsupported_version(spec, addon, template, cluster,
                                                 chosen.version)]
    return chosen, []


def _plan_present(ctx: _Cluster, addon: AddonSpec, version: TemplateVersion,
                  instance: AddonInstance | None) -> None:
    live_values = instance.values if instance is not None else None
    if addon.flavor is not None and addon.flavor not in version.flavors:
        ctx.errors.append(checks.unknown_flavor(ctx.spec, addon, version, addon.flavor))
        return
    defaults = defaults_for(version, live_values, addon)
    desired_values = normalise(addon.values, defaults.values)
    type_errors = checks.value_problems(ctx.spec, addon, version, desired_values,
                                        defaults.values, defaults.flavor)
    if type_errors:
        ctx.errors.extend(type_errors)
        return
    template = ctx.templates[addon.name]
    live_version = template.version(instance.version) if instance is not None else None
    full = merge_layers(defaults, live_values, addon, desired_values, ctx.live.cluster,
                        ctx.spec.project_id, live_version=live_version, detach=False)
    recorded = ctx.state.addons.get(addon.name) if ctx.state is not None else None
    rules = secrets.rules_for(addon, recorded)
    field_changes = diff_values(live_values or {}, full.values, ignore=addon.ignore_changes,
                                sensitive=rules, schema=defaults.values,
                                salt=ctx.salt)
    action, reason = _choose(ctx, addon, version, instance, bool(field_changes))
    if instance is not None and not addon.allow_downgrade and _downgrades(instance,
                                                                          version.version):
        # Still planned (so the plan says what the file asks for), with an
        # error that makes apply refuse the cluster until the file opts in.
        ctx.errors.append(checks.refused_downgrade(ctx.spec, addon, instance.version,
                                                   version.version))
    if instance is not None and action is not Action.NOOP:
        _warn_mid_operation(ctx, addon, instance, action.value)
    if action is Action.NOOP:
        assert instance is not None
        ctx.changes.append(_refresh(ctx, addon, instance)
                           or replace(_noop(addon, instance.version, reason, instance.uid),
                                      version_constraint=addon.version_constraint or ""))
        return
    values: Mapping[str, JSON] = full.values
    if live_values is not None and not field_changes and values == live_values:
        # An equal tree: hold the live one (the cloud layer shares those across
        # clusters), not a copy per add-on; a first plan over 10,000 clusters
        # adopts 80,000 of them (docs/planning.md: peak memory).
        values = live_values
    else:
        values = own_lists(full.values)  # held by the plan: not the layers' lists
    ctx.changes.append(Change(
        addon=addon.name, action=action,
        instance_id=instance.uid if instance else "",
        before_version=instance.version if instance else "",
        after_version=version.version,
        values=values,
        field_changes=field_changes,
        provenance=_shared_provenance(full.provenance),
        sensitive_paths=secrets.sensitive_paths(full.values, addon, recorded),
        secret_sources=dict(addon.secret_sources),
        secret_templates=dict(addon.secret_templates),
        reason=reason,
        depends_on=addon.depends_on,
        precheck_accept=addon.precheck_accept,
        on_failure=addon.on_failure,
        timeout_seconds=addon.timeout_seconds,
        adopting=instance is not None and bool(_not_managed(ctx, addon, instance)),
        version_constraint=addon.version_constraint or "",
    ))


def _refresh(ctx: _Cluster, addon: AddonSpec, instance: AddonInstance) -> Change | None:
    """A state-only refresh of a managed add-on that needs no write."""
    recorded = ctx.state.addons.get(addon.name) if ctx.state else None
    if ctx.state is None or recorded is None:
        return None
    return refresh_change(recorded, instance, ctx.templates.get(addon.name),
                          ignore=addon.ignore_changes,
                          declared=addon, salt=ctx.state.salt, depends_on=addon.depends_on)


_PROVENANCE: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}


def _shared_provenance(provenance: Mapping[str, str]) -> Mapping[str, str]:
    """An equal provenance map seen before, if any: add-ons of one template and
    one declaration have the same map (memory, as above; read-only)."""
    key = tuple(provenance.items())
    found = _PROVENANCE.get(key)
    if found is None:
        if len(_PROVENANCE) > 10_000:
            _PROVENANCE.clear()
        found = _PROVENANCE[key] = provenance
    return found


def _choose(ctx: _Cluster, addon: AddonSpec, version: TemplateVersion,
            instance: AddonInstance | None, values_differ: bool) -> tuple[Action, str]:
    recorded = ctx.state.addons.get(addon.name) if ctx.state else None
    if instance is None:
        if recorded is not None:
            return Action.INSTALL, (
                f"in state (uid {recorded.uid}) but no longer live: deleted outside the "
                "reconciler; re-installing")
        return Action.INSTALL, "declared and not installed"
    not_managed = _not_managed(ctx, addon, instance)
    adopting = f"; adopting: {not_managed}" if not_managed else ""
    if instance.status.status in UNHEALTHY_STATUSES:
        # Health is part of the desired state: after a failed upgrade CCE
        # already reports the target version, so version and values "match"
        # and only the status tells that the add-on is not what was declared.
        return Action.REPAIR, checks.repair_reason(instance, version.version) + adopting
    if instance.version != version.version:
        resolved = f" (from {addon.version_constraint})" if addon.version_constraint else ""
        reason = f"version {instance.version} → {version.version}{resolved}" + adopting
        lower = checks.is_downgrade(instance.version, version.version)
        return (Action.DOWNGRADE if lower else Action.UPGRADE), reason
    if not_managed and values_differ:
        # It writes, so it is counted and prechecked as the update it is.
        return Action.UPDATE, f"values differ; adopting: {not_managed}"
    if not_managed:
        return Action.ADOPT, f"{not_managed}; values match"
    if values_differ:
        return Action.UPDATE, "values differ"
    status = instance.status.status
    if status not in READY_STATUSES:
        return Action.NOOP, f"up to date (instance is {status})"
    return Action.NOOP, "up to date"


def _not_managed(ctx: _Cluster, addon: AddonSpec, instance: AddonInstance) -> str:
    """Why the live instance is not under management yet ("" if it is)."""
    recorded = ctx.state.addons.get(addon.name) if ctx.state else None
    if ctx.state is None:
        return "no state file yet (first run)"
    if recorded is None:
        return "not in the state file"
    if recorded.uid and recorded.uid != instance.uid:
        return (f"re-created outside the reconciler (state has uid {recorded.uid}, "
                f"live is {instance.uid})")
    return ""


def _warn_mid_operation(ctx: _Cluster, addon: AddonSpec, instance: AddonInstance,
                        action: str) -> None:
    if instance.status.status in IN_PROGRESS_STATUSES:
        ctx.errors.append(checks.mid_operation(ctx.spec, addon, instance.status.status, action))


def _downgrades(instance: AddonInstance, target: str) -> bool:
    """A write of ``target`` would lower the live version. Repairing a failed
    upgrade back to the version it ran before is going back, not a downgrade:
    reverting the file is the natural way out of a failed upgrade. Nor is
    repairing a failed install to an older version: the instance never ran the
    version it reports, so nothing that worked is taken away."""
    if not checks.is_downgrade(instance.version, target):
        return False
    if instance.status.status == "installFailed":
        return False
    return not (instance.status.status in UNHEALTHY_STATUSES
                and target == instance.status.previous_version)


def _noop(addon: AddonSpec, version: str, reason: str, instance_id: str = "") -> Change:
    return Change(addon=addon.name, action=Action.NOOP, instance_id=instance_id,
                  before_version=version, after_version=version, reason=reason,
                  depends_on=addon.depends_on)


def _plan_undeclared(ctx: _Cluster) -> tuple[list[str], list[str]]:
    """Delete (prune) or list the live add-ons the file doesn't declare: the
    unmanaged ones, and those the state still records (managed, kept)."""
    unmanaged: list[str] = []
    kept: list[str] = []
    declared = {a.name for a in ctx.spec.addons}
    recorded = ctx.state.addons if ctx.state else {}
    for name in sorted(set(ctx.instances) - declared):
        instance = ctx.instances[name]
        template = ctx.templates.get(name)
        if not ctx.spec.prune:
            (kept if name in recorded else unmanaged).append(name)
            if name in recorded and ctx.state is not None:
                # Still managed: the state follows a change made outside (as for a
                # declared add-on), or drift would report it for ever.
                found = refresh_change(recorded[name], instance, template, ignore=(),
                                       declared=None, salt=ctx.state.salt)
                if found is not None:
                    ctx.changes.append(found)
        elif instance.status.status == "deleting":
            continue  # already going away
        elif template is not None and template.require:
            unmanaged.append(name)
            ctx.errors.append(checks.diagnostic(
                ctx.spec, None, "prune",
                f"`{name}` is not declared but CCE marks it required; prune leaves it alone",
                f"declare `{name}` to manage it", severity=Severity.WARNING))
        elif instance.status.status in IN_PROGRESS_STATUSES:
            ctx.errors.append(checks.diagnostic(
                ctx.spec, None, "prune",
                f"cannot delete `{name}` (prune: true): the live instance is "
                f"{instance.status.status}", "wait for the operation to finish, then plan again"))
        else:
            ctx.changes.append(Change(
                addon=name, action=Action.DELETE, instance_id=instance.uid,
                before_version=instance.version, reason="not declared and prune: true"))
    return unmanaged, kept
