"""State-only ``refresh`` changes: the state catching up with live, nothing sent.

Drift compares live with the state's last applied version and values
(``engine.drift.changed_values``); plan compares live with the desired files.
When live already is what the files want but the state lags it (a console
edit of a key the files don't declare, an apply killed after its write), the
plan alone would say "No changes" while drift alerts forever. A ``refresh``
records live into the state so the two agree again. This module decides when
one is due, comparing exactly what drift compares, so a refresh always leaves
drift clean. Pure.

``refresh_only`` is the plan of ``plan --refresh-only`` / ``apply
--refresh-only`` (Terraform's): every out-of-band change of a managed add-on
accepted into the state, whatever the files say, and no write to the cloud.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from reconciler.engine import secrets
from reconciler.engine.drift import changed_values
from reconciler.engine.order import apply_order
from reconciler.engine.secrets import hash_at
from reconciler.model.desired import AddonSpec, ClusterSpec
from reconciler.model.live import READY_STATUSES, AddonInstance, AddonTemplate, LiveCluster
from reconciler.model.plan import Action, Change, ClusterPlan, FieldChange
from reconciler.model.state import ManagedAddon, StateFile

__all__ = ["refresh_change", "refresh_only"]


def refresh_change(recorded: ManagedAddon, instance: AddonInstance,
                   template: AddonTemplate | None, *, ignore: Collection[str],
                   declared: AddonSpec | None, salt: str,
                   depends_on: tuple[str, ...] = ()) -> Change | None:
    """The ``refresh`` that records ``instance`` over ``recorded``, or None when
    the state already agrees with live as drift sees it (same uid, version and
    values outside ``ignore``) or the instance is not settled and healthy (a
    failed or running operation is no state to accept)."""
    if instance.status.status not in READY_STATUSES:
        return None
    uid_differs = bool(recorded.uid) and recorded.uid != instance.uid
    field_changes = () if uid_differs else _values_lag(recorded, instance, template,
                                                       ignore, salt, declared)
    if not uid_differs and recorded.version == instance.version and not field_changes:
        return None
    return Change(
        addon=recorded.name,
        action=Action.REFRESH,
        instance_id=instance.uid,
        before_version=recorded.version,
        after_version=instance.version,
        field_changes=field_changes,
        # What drift compares is what the state must hold: the state's own
        # sensitive paths stay hidden (remembered), plus whatever the one rule hides.
        sensitive_paths=secrets.sensitive_paths(instance.values, declared, recorded),
        reason=_reason(recorded, instance, uid_differs, bool(field_changes)),
        depends_on=depends_on,
    )


def _values_lag(recorded: ManagedAddon, instance: AddonInstance, template: AddonTemplate | None,
                ignore: Collection[str], salt: str,
                declared: AddonSpec | None) -> tuple[FieldChange, ...]:
    # Fast path, as most add-ons agree: the stored form of live equals the state's.
    stored = (hash_at(instance.values, recorded.sensitive_paths, salt)
              if recorded.sensitive_paths else instance.values)
    if stored == recorded.values:
        return ()
    return changed_values(recorded, instance, template, ignore=tuple(ignore), salt=salt,
                          declared=declared)


def _reason(recorded: ManagedAddon, instance: AddonInstance, uid_differs: bool,
            values_differ: bool) -> str:
    if uid_differs:
        return (f"re-created outside the reconciler (state has uid {recorded.uid}, live is "
                f"{instance.uid}); recording the live instance")
    lags = []
    if recorded.version != instance.version:
        lags.append(f"version {recorded.version} → {instance.version}")
    if values_differ:
        lags.append("values changed")
    return ("the state lags live (" + ", ".join(lags)
            + "): recording live into the state; nothing is sent")


def refresh_only(cp: ClusterPlan, spec: ClusterSpec, live: LiveCluster,
                 templates: Mapping[str, AddonTemplate], state: StateFile | None) -> ClusterPlan:
    """``cp`` with its changes replaced by a ``refresh`` per managed add-on whose
    live instance moved away from the state: values, version or uid changed, or
    gone (the refresh then forgets it). Declared-but-unmanaged add-ons and the
    files' wishes are left for a normal plan."""
    if state is None:
        return replace(cp, changes=())
    instances: dict[str, AddonInstance] = {}
    for one in live.instances:
        instances.setdefault(one.template_name, one)
    changes = []
    for name, recorded in sorted(state.addons.items()):
        declared = spec.addon(name)
        instance = instances.get(name)
        if instance is None:
            changes.append(Change(
                addon=name, action=Action.REFRESH, instance_id=recorded.uid,
                before_version=recorded.version,
                reason="deleted outside the reconciler: forgetting it (the state entry "
                "is removed; nothing is sent)"))
            continue
        found = refresh_change(
            recorded, instance, templates.get(name),
            ignore=declared.ignore_changes if declared else (),
            declared=declared, salt=state.salt)
        if found is not None:
            changes.append(found)
    file_index = {a.name: i for i, a in enumerate(spec.addons)}
    return replace(cp, changes=apply_order(changes, file_index))
