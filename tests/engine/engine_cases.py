"""Reads the table-driven planner cases in ``tests/cases/<name>/``.

A case directory holds:

- ``desired.yaml``: a desired-state file in the user format (docs/desired-state.md), read by
  ``reconciler.config.load_desired``; ``environ`` in ``live.json`` supplies its
  ``env()`` / ``secret()`` variables;
- ``live.json``: what the API would return, in a simple shape::

      {"environ": {"TOKEN": "…"},                      # optional
       "templates": {…},                                # optional: replaces the catalog
       "clusters": {"<cluster name>": {
           "cluster": {"version": "v1.28.3-r0", "type": "VirtualMachine",
                       "category": "CCE", "phase": "Available"},   # all optional
           "instances": [{"template": "coredns", "version": "1.29.4",
                          "status": "running", "uid": "…",          # optional
                          "reason": "…", "message": "…",            # status Reason,
                          "previous_version": "…",                   #   message …
                          "values": {…} | "defaults",               # "defaults": the
                          "flavor": "5000",                          #   version's defaults
                          "patch": {…},                              # merged over them
                          "drop": ["custom.cache_ttl"]}]},           # keys removed
         "<unreadable cluster>": {"error": "message"}}}

  Templates come from ``tests/cases/templates.json`` (format described there);
- ``state.json`` (optional): ``{"<cluster>": {"lineage", "serial", "salt",
  "addons": {"<name>": {"uid", "version", "values"}}}}``; without ``values`` an
  entry records the live instance's values (the state agrees with live; give
  ``values``, or ``"defaults"`` for the version's defaults, to make it lag);
- ``expected_plan.json``: :func:`project` of the plan, compared for equality.
  ``errors`` / ``warnings`` list substrings, one per diagnostic, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.config import load_desired
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import (
    AddonInstance,
    AddonTemplate,
    Cluster,
    InstanceStatus,
    LiveCluster,
    SupportVersion,
    TemplateVersion,
)
from reconciler.model.plan import Plan
from reconciler.model.sensitive import is_redacted
from reconciler.model.state import ManagedAddon, StateFile
from reconciler.model.trust import EnvRule

CASES = Path(__file__).resolve().parents[1] / "cases"


def case_dirs() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_templates(raw: dict[str, Any]) -> dict[str, AddonTemplate]:
    inputs = raw.get("inputs", {})
    found = {}
    for name, body in raw["templates"].items():
        versions = tuple(
            TemplateVersion(
                version=v["version"],
                input=inputs[v["input"]] if isinstance(v["input"], str) else v["input"],
                stable=v.get("stable", True),
                support_versions=tuple(
                    SupportVersion(cluster_type=s.get("clusterType", ""),
                                   cluster_versions=tuple(s.get("clusterVersion", ())),
                                   categories=tuple(s.get("category", ())))
                    for s in v.get("supportVersions", ())),
            )
            for v in body["versions"])
        found[name] = AddonTemplate(name=name, require=body.get("require", False),
                                    versions=versions)
    return found


def _defaults(template: AddonTemplate, version: str, flavor: str | None) -> dict[str, Any]:
    # deliberately not the engine's code: the fixture spells out layer 1 of
    # docs/planning.md, "Full values"
    found = template.version(version)
    assert found is not None, f"fixture names unknown {template.name} {version}"
    params = found.input.get("parameters", {})
    presets = [params[k] for k in sorted(params) if k.startswith("flavor")]
    values: dict[str, Any] = {"basic": found.input.get("basic", {}),
                              "custom": params.get("custom", {})}
    chosen = [p for p in presets if flavor is None or str(p["name"]) == flavor]
    if chosen:
        values["flavor"] = chosen[0]
    return json.loads(json.dumps(values))


def _patch(base: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _patch(base[key], value)
        else:
            base[key] = value


def _instance(raw: dict[str, Any], cluster_id: str,
              templates: dict[str, AddonTemplate]) -> AddonInstance:
    values = raw.get("values", "defaults")
    if values == "defaults":
        values = _defaults(templates[raw["template"]], raw["version"], raw.get("flavor"))
    _patch(values, raw.get("patch", {}))
    for path in raw.get("drop", ()):
        *parents, last = path.split(".")
        node = values
        for key in parents:
            node = node[key]
        del node[last]
    return AddonInstance(
        uid=raw.get("uid", f"uid-{raw['template']}"), name=raw["template"],
        cluster_id=cluster_id, template_name=raw["template"], version=raw["version"],
        values=values, status=InstanceStatus(
            status=raw.get("status", "running"), reason=raw.get("reason", ""),
            message=raw.get("message", ""),
            previous_version=raw.get("previous_version", "")))


def load_case(path: Path) -> tuple[DesiredState, dict[str, LiveCluster | Diagnostic],
                                   dict[str, AddonTemplate], dict[str, StateFile | None],
                                   dict[str, str]]:
    live_raw = read_json(path / "live.json")
    environ = live_raw.get("environ", {})
    # The case's variables are the ones its operator allows.
    desired = load_desired([path / "desired.yaml"], environ=environ,
                           allowed_env=EnvRule(tuple(environ)))
    catalog = live_raw.get("templates") or read_json(CASES / "templates.json")
    templates = load_templates(catalog)
    ids = {c.name: c.cluster_id for c in desired.clusters}
    live: dict[str, LiveCluster | Diagnostic] = {}
    for name, body in live_raw["clusters"].items():
        if "error" in body:
            live[name] = Diagnostic("", 0, 0, f"clusters.{name}", body["error"])
            continue
        info = body.get("cluster", {})
        cluster = Cluster(id=ids[name], name=name, version=info.get("version", "v1.28.3-r0"),
                          type=info.get("type", "VirtualMachine"),
                          category=info.get("category", "CCE"),
                          phase=info.get("phase", "Available"))
        live[name] = LiveCluster(cluster=cluster, instances=tuple(
            _instance(i, ids[name], templates) for i in body.get("instances", ())))
    states: dict[str, StateFile | None] = {}
    if (path / "state.json").exists():
        for name, body in read_json(path / "state.json").items():
            found = live.get(name)
            running = ({i.template_name: i for i in found.instances}
                       if isinstance(found, LiveCluster) else {})

            def recorded(n: str, a: dict[str, Any],
                         running: dict[str, AddonInstance] = running) -> dict[str, Any]:
                if a.get("values") == "defaults":
                    return _defaults(templates[n], a["version"], a.get("flavor"))
                if "values" in a:
                    return dict(a["values"])
                instance = running.get(n)
                return dict(instance.values) if instance is not None else {}

            states[name] = StateFile(
                lineage=body.get("lineage", "lineage-1"), serial=body.get("serial", 1),
                cluster_name=name, cluster_id=ids.get(name, ""), salt=body.get("salt", ""),
                addons={n: ManagedAddon(name=n, uid=a.get("uid", f"uid-{n}"),
                                        version=a["version"], values=recorded(n, a),
                                        values_digest="", applied_at="2026-01-01T00:00:00Z")
                        for n, a in body.get("addons", {}).items()})
    return desired, live, templates, states, environ


def _shown(value: Any) -> Any:
    return "(sensitive)" if is_redacted(value) else value


def project(plan: Plan, base: Path) -> dict[str, Any]:
    """The compact, readable form of a plan that expected_plan.json holds;
    diagnostics name files relative to ``base`` (the case directory)."""
    clusters: dict[str, Any] = {}
    for cluster in plan.clusters:
        body: dict[str, Any] = {"changes": [
            {
                "addon": c.addon,
                "action": c.action.value,
                "before": c.before_version,
                "after": c.after_version,
                "reason": c.reason,
                "fields": [[f.path, f.kind.value, _shown(f.before), _shown(f.after)]
                           for f in c.field_changes],
            }
            for c in cluster.changes
        ]}
        if cluster.unmanaged:
            body["unmanaged"] = list(cluster.unmanaged)
        if cluster.managed_undeclared:
            body["managed_undeclared"] = list(cluster.managed_undeclared)
        prefix = f"{base}/"
        errors = [str(d).replace(prefix, "") for d in cluster.errors if d.severity == "error"]
        warnings = [str(d).replace(prefix, "") for d in cluster.errors if d.severity != "error"]
        if errors:
            body["errors"] = errors
        if warnings:
            body["warnings"] = warnings
        if cluster.readiness is not None:
            body["readiness_unsupported"] = list(cluster.readiness.unsupported_addons)
        clusters[cluster.name] = body
    return {"clusters": clusters}


def matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Equal, except that expected diagnostics are substrings of the actual ones."""
    if expected.keys() != actual.keys():
        return False
    for key, want in expected.items():
        got = actual[key]
        if key in ("errors", "warnings"):
            if len(want) != len(got) or not all(w in g for w, g in zip(want, got, strict=True)):
                return False
        elif isinstance(want, dict):
            if not isinstance(got, dict) or not matches(want, got):
                return False
        elif want != got:
            return False
    return True
