"""The document policies read: a plan's changes in the shape of Terraform's plan JSON.

Policies written for Terraform plans read ``input.resource_changes[_]`` with an
``address``, a ``type`` and ``change.actions``/``before``/``after``; this module
builds that list from our canonical plan JSON (``planfile.codec.plan_to_json``),
so such policies carry over, and ``conftest test`` works on ``plan --format
json`` unchanged (the list is at its top level there too). Pure: JSON in, JSON
out. The shape is documented in docs/policy.md and ``input.schema.json``.

Only add-ons the plan does something to are listed (no ``no-op``): a policy
gates changes, and the embedded Rego runtime reads every node of its input, so
a 1,000-cluster plan whose 8,000 unchanged add-ons were listed too would take
seconds to evaluate (for the same reason nothing is listed twice). Values are
the leaves that change, keyed by their value path (``custom.maxNodesTotal``,
``custom.stub_domains.acme.local``: flat, since a key may hold a dot), never the
full values; a sensitive leaf that changes is only named, in
``change.sensitive``, without a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ACTIONS",
    "INPUT_SCHEMA_PATH",
    "POLICY_INPUT_VERSION",
    "policy_input",
    "resource_changes",
]

POLICY_INPUT_VERSION = 1
INPUT_SCHEMA_PATH = Path(__file__).with_name("input.schema.json")
"""The JSON Schema of ``policy_input`` (shipped with the package, for policy authors)."""

ACTIONS: Mapping[str, tuple[str, ...]] = {
    # Terraform's action first (what policies written for Terraform test), then ours.
    "install": ("create",),
    "upgrade": ("update", "upgrade"),
    "update": ("update",),
    "repair": ("update", "repair"),
    "downgrade": ("update", "downgrade"),
    "delete": ("delete",),
    "adopt": ("no-op", "adopt"),
    "refresh": ("no-op", "refresh"),
    "no-op": ("no-op",),
}
"""Our plan action → ``change.actions``."""


def policy_input(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The policy input of a canonical JSON plan (docs/policy.md)."""
    summary = plan.get("summary") or {}
    return {
        "format_version": POLICY_INPUT_VERSION,
        "plan_id": plan.get("plan_id", ""),
        "resource_changes": resource_changes(plan),
        "summary": {k: v for k, v in summary.items() if not isinstance(v, Mapping)},
    }


def resource_changes(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per add-on change other than ``no-op``, clusters in plan order."""
    out: list[dict[str, Any]] = []
    for cluster in plan.get("clusters", ()):
        where = {
            "name": cluster["name"],
            "labels": cluster.get("labels") or {},
            "kubernetes_version": cluster.get("kubernetes_version", ""),
            "wave": cluster.get("wave", ""),
        }
        for change in cluster.get("changes", ()):
            action = change["action"]
            if action == "no-op":
                continue
            out.append(_resource_change(where, change, action))
    return out


def _resource_change(where: Mapping[str, Any], change: Mapping[str, Any],
                     action: str) -> dict[str, Any]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    sensitive: list[str] = []
    for fc in change.get("field_changes", ()):
        if fc.get("sensitive"):
            sensitive.append(fc["path"])
            continue
        if fc["kind"] != "added":
            before[fc["path"]] = fc.get("before")
        if fc["kind"] != "removed":
            after[fc["path"]] = fc.get("after")
    return {
        "address": f"{where['name']}/{change['addon']}",
        "type": change["addon"],
        "cluster": where,
        "change": {
            "actions": list(ACTIONS.get(action, (action,))),
            "before": None if action == "install" else {
                "version": change.get("before_version", ""), "values": before},
            "after": None if action == "delete" else {
                "version": change.get("after_version", ""), "values": after},
            "sensitive": sensitive,
        },
        "precheck_risks": [_risk(f) for f in change.get("findings", ())],
    }


def _risk(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {key: finding.get(key) for key in
            ("risk", "level", "status", "message", "accepted", "blocking")}

