"""Reprs of model objects end up in tracebacks and logs: they must not carry values."""

from __future__ import annotations

from reconciler.model.desired import AddonSpec
from reconciler.model.plan import Action, Change, FieldChange, FieldChangeKind

SECRET = "hunter2-do-not-print"


def test_addon_spec_repr_hides_values() -> None:
    spec = AddonSpec(name="autoscaler", values={"custom": {"password": SECRET}},
                     secret_sources={"custom.password": ("AUTOSCALER_TOKEN",)})
    assert SECRET not in repr(spec)
    assert "autoscaler" in repr(spec)


def test_change_and_field_change_reprs_hide_values() -> None:
    fc = FieldChange(path="custom.password", kind=FieldChangeKind.CHANGED,
                     before="old-" + SECRET, after=SECRET, sensitive=True)
    change = Change(addon="autoscaler", action=Action.UPDATE,
                    values={"custom": {"password": SECRET}}, field_changes=(fc,))
    assert SECRET not in repr(change)
    assert SECRET not in repr(fc)
    assert "custom.password" in repr(fc)
