"""Re-planning one add-on after waiting for the operation that was in flight.

A plan made while an instance is mid-operation (installing, upgrading,
rollbacking, deleting: a killed apply's write, a console edit, a PUT whose
answer was lost) plans against what CCE reports then, which is the
operation's target. Apply waits for the operation to settle and then asks
here what is left to do, comparing the settled instance with the change the
plan reviewed: the same version and values leave nothing to send; another
version than the plan's start or target means the plan no longer describes
the add-on, and only a new plan may decide. Pure.
"""

from __future__ import annotations

import dataclasses

from reconciler.engine import secrets
from reconciler.engine.diff import diff_values
from reconciler.model.live import FAILED_STATUSES, AddonInstance
from reconciler.model.plan import Action, Change

__all__ = ["replan_settled"]


def replan_settled(
    change: Change, instance: AddonInstance | None, *, salt: str = ""
) -> Change | str:
    """The change still to execute once ``instance`` has settled (None: it is
    gone), or why it can't be decided without a new plan. A change with no
    field changes and action ``ADOPT`` sends nothing (the settled instance is
    recorded); ``NOOP`` means a delete that the operation already did."""
    if change.action is Action.DELETE:
        if instance is None:
            return dataclasses.replace(change, action=Action.NOOP,
                                       reason="deleted by the operation that was in flight")
        return dataclasses.replace(change, instance_id=instance.uid,
                                   before_version=instance.version)
    if instance is None:
        return "the instance was deleted while apply waited for its operation in flight"
    status = instance.status
    if status.status in FAILED_STATUSES:
        detail = "; ".join(p for p in (f"Reason: {status.reason}" if status.reason else "",
                                       f"message: {status.message}" if status.message else "")
                           if p)
        return (f"the operation in flight ended {status.status}"
                + (f" ({detail})" if detail else ""))
    if instance.version not in (change.before_version, change.after_version):
        return (f"the operation in flight left version {instance.version}; the plan was made "
                f"for {change.before_version} → {change.after_version}")
    field_changes = diff_values(instance.values, change.values, ignore=(),
                                sensitive=secrets.rules(declared=change.sensitive_paths),
                                schema=None, salt=salt)
    if instance.version != change.after_version:
        action = change.action  # the version change is still to do, as planned
    elif field_changes:
        action = Action.ADOPT if change.action is Action.ADOPT else Action.UPDATE
    else:
        action = Action.ADOPT  # nothing left to send: record the settled instance
    return dataclasses.replace(change, action=action, instance_id=instance.uid,
                               before_version=instance.version, field_changes=field_changes)
