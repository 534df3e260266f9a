"""Scenario add-on templates and the values an install starts from.

``default_values`` and ``deep_merge`` re-implement on purpose what the client's
engine does with templates (engine/values.py): the emulator is an independent
oracle of CCE, so it must not share the code it is meant to check."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.emulator.scenario.clusters import version_matches
from reconciler.emulator.scenario.reader import Reader
from reconciler.model.json import JSON

__all__ = [
    "TemplateSpec",
    "TemplateVersionSpec",
    "deep_merge",
    "default_values",
    "read_template",
    "read_template_version",
]


@dataclass(frozen=True, eq=False)  # identity hash: wire renders are cached per version
class TemplateVersionSpec:
    version: str
    input: Mapping[str, JSON]
    support_versions: tuple[Mapping[str, JSON], ...]
    """Wire-shaped ``supportVersions`` entries (clusterType, clusterVersion, category)."""
    stable: bool = True

    def supports(self, cluster_type: str, category: str, k8s_version: str) -> bool:
        for entry in self.support_versions:
            if entry.get("clusterType") and entry["clusterType"] != cluster_type:
                continue
            allowed = entry.get("category") or ["CCE", "Turbo"]
            if category and category not in allowed:
                continue
            if any(version_matches(rx, k8s_version) for rx in entry.get("clusterVersion") or []):
                return True
        return False

    def flavor(self, name: str | None) -> Mapping[str, JSON] | None:
        """The flavor preset called ``name`` (``str`` compared), else the first one."""
        params = self.input.get("parameters") or {}
        keys = sorted((k for k in params if re.fullmatch(r"flavor\d+", k)),
                      key=lambda k: int(k[6:]))
        presets = [params[k] for k in keys if isinstance(params[k], Mapping)]
        if name is None:
            return presets[0] if presets else None
        return next((p for p in presets if str(p.get("name")) == str(name)), None)


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    versions: tuple[TemplateVersionSpec, ...]
    alias: str = ""
    type: str = "helm"
    require: bool = False
    labels: tuple[str, ...] = ()
    description: str = ""
    logo_url: str = ""
    custom_required: bool = False
    """Install/upgrade without ``values.custom`` fails like the real autoscaler."""

    def version(self, version: str) -> TemplateVersionSpec | None:
        return next((v for v in self.versions if v.version == version), None)


def deep_merge(base: Mapping[str, JSON], override: Mapping[str, JSON]) -> dict[str, JSON]:
    """``override`` wins; nested mappings merge; lists and scalars replace."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def default_values(
    tv: TemplateVersionSpec,
    flavor: str | None = None,
    cluster_id: str = "",
    project_id: str = "",
) -> dict[str, JSON]:
    """Template defaults as instance ``values``: basic, custom, one flavor preset.

    With ``cluster_id``/``project_id`` the well-known empty custom keys are
    filled in, as the console does when it installs an add-on."""
    params = tv.input.get("parameters") or {}
    custom = copy.deepcopy(dict(params.get("custom") or {}))
    derived = {"cluster_id": cluster_id, "tenant_id": project_id, "project_id": project_id}
    for key, value in derived.items():
        if value and custom.get(key) == "":
            custom[key] = value
    values: dict[str, JSON] = {"basic": copy.deepcopy(dict(tv.input.get("basic") or {}))}
    values["custom"] = custom
    preset = tv.flavor(flavor)
    if preset is not None:
        values["flavor"] = copy.deepcopy(dict(preset))
    return values


def read_template_version(r: Reader) -> TemplateVersionSpec:
    r.check_keys({"version", "input", "stable", "supportVersions"})
    inp: Mapping[str, JSON] = r.get("input", dict, required=True)
    params = inp.get("parameters", {})
    if not isinstance(params, Mapping):
        r.fail("must be a mapping", "input.parameters")
    support = []
    for s in r.items("supportVersions", required=True):
        s.check_keys({"clusterType", "clusterVersion", "category"})
        patterns = s.get("clusterVersion", list, required=True)
        for i, p in enumerate(patterns):
            if not isinstance(p, str):
                s.fail("must be a string regex", f"clusterVersion[{i}]")
            try:
                re.compile(p)
            except re.error as exc:
                s.fail(f"is not a valid regular expression: {exc}", f"clusterVersion[{i}]")
        support.append(
            {
                "clusterType": s.get("clusterType", str, "VirtualMachine"),
                "clusterVersion": list(patterns),
                "category": list(s.get("category", list, ["CCE", "Turbo"])),
            }
        )
    return TemplateVersionSpec(
        version=r.get("version", str, required=True),
        input=inp,
        support_versions=tuple(support),
        stable=r.get("stable", bool, True),
    )


def read_template(r: Reader) -> TemplateSpec:
    r.check_keys({"name", "alias", "type", "require", "labels", "description", "logo_url",
                  "custom_required", "versions"})
    name: str = r.get("name", str, required=True)
    versions = tuple(read_template_version(v) for v in r.items("versions", required=True))
    if not versions:
        r.fail("must list at least one version", "versions")
    seen: set[str] = set()
    for i, v in enumerate(versions):
        if v.version in seen:
            r.fail(f"duplicate version {v.version}", f"versions[{i}].version")
        seen.add(v.version)
    return TemplateSpec(
        name=name,
        versions=versions,
        alias=r.get("alias", str, name),
        type=r.get("type", str, "helm"),
        require=r.get("require", bool, False),
        labels=tuple(r.get("labels", list, [])),
        description=r.get("description", str, ""),
        logo_url=r.get("logo_url", str, f"https://cce-addons.example.invalid/{name}logo.svg"),
        custom_required=r.get("custom_required", bool, False),
    )
