"""Scenario files: the clusters, templates, instances and rules an emulator starts from.

The format is documented in ``docs/emulator.md``. Loading validates every key
and raises :class:`ScenarioError` naming the file and the key path.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from reconciler.model.json import JSON

__all__ = [
    "Account",
    "ClusterSpec",
    "FailureRule",
    "InstanceSeed",
    "NodeSpec",
    "PrecheckRule",
    "Scenario",
    "ScenarioError",
    "TemplateSpec",
    "TemplateVersionSpec",
    "Timing",
    "deep_merge",
    "default_values",
    "demo_scenario_path",
    "generate_account",
    "load_scenario",
    "scenario_from_mapping",
]


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Account:
    """The one account an emulator accepts. Secrets are kept out of ``repr``."""

    project_id: str
    access_key: str
    secret_key: str = field(repr=False)
    token: str = field(repr=False)
    secret_generated: bool = False


def generate_account(project_id: str | None = None) -> Account:
    alphabet = string.ascii_uppercase + string.digits
    return Account(
        project_id=project_id or secrets.token_hex(16),
        access_key="".join(secrets.choice(alphabet) for _ in range(20)),
        secret_key="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)),
        token="emu-" + secrets.token_urlsafe(48),
        secret_generated=True,
    )


@dataclass(frozen=True)
class Timing:
    """Durations in emulated seconds (real seconds = emulated / time_scale)."""

    install_s: float = 20.0
    upgrade_s: float = 20.0
    rollback_s: float = 15.0
    delete_s: float = 10.0
    addon_precheck_init_s: float = 2.0
    addon_precheck_run_s: float = 6.0
    cluster_precheck_init_s: float = 2.0
    cluster_precheck_run_s: float = 12.0
    precheck_expiry_s: float = 3600.0


@dataclass(frozen=True)
class NodeSpec:
    uid: str
    name: str


@dataclass(frozen=True)
class ClusterSpec:
    id: str
    name: str
    version: str
    type: str = "VirtualMachine"
    category: str = "CCE"
    phase: str = "Available"
    platform_version: str = "cce.10.0"
    nodes: tuple[NodeSpec, ...] = ()


def version_matches(pattern: str, k8s_version: str) -> bool:
    """A ``clusterVersion`` regex matches the full version or its minor (``v1.28``)."""
    minor = re.match(r"^v?\d+\.\d+", k8s_version)
    candidates = {k8s_version, minor.group(0) if minor else k8s_version}
    try:
        rx = re.compile(pattern)
    except re.error:
        return pattern in candidates
    return any(rx.fullmatch(c) for c in candidates)


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


@dataclass(frozen=True)
class InstanceSeed:
    id: str
    cluster_id: str
    template: str
    version: str
    values: Mapping[str, JSON]
    status: str = "running"
    reason: str = ""
    message: str = ""
    previous_version: str = ""
    is_rollbackable: bool = False


@dataclass(frozen=True)
class PrecheckRule:
    """Makes the add-on precheck of matching instances report ``risk`` as Failed."""

    template: str
    risk: str
    level: str = "Warning"
    message: str = ""
    cluster_id: str | None = None
    check_type: str | None = None
    """``addonUpgrade`` or ``addonStatic``; None matches both."""
    target_version: str | None = None
    """Regex on the task's target version; None matches any."""
    instance_status: tuple[str, ...] | None = None

    def matches(
        self, template: str, cluster_id: str, check_type: str, target: str, status: str
    ) -> bool:
        return (
            self.template == template
            and self.cluster_id in (None, cluster_id)
            and self.check_type in (None, check_type)
            and (self.target_version is None
                 or re.fullmatch(self.target_version, target) is not None)
            and (self.instance_status is None or status in self.instance_status)
        )


@dataclass(frozen=True)
class FailureRule:
    """Makes a matching install or upgrade end in installFailed/upgradeFailed."""

    template: str
    operation: str
    reason: str = ""
    message: str = ""
    cluster_id: str | None = None
    version: str | None = None
    """Regex on the version being installed/upgraded to; None matches any."""

    def matches(self, template: str, cluster_id: str, operation: str, version: str) -> bool:
        return (
            self.template == template
            and self.operation == operation
            and self.cluster_id in (None, cluster_id)
            and (self.version is None or re.fullmatch(self.version, version) is not None)
        )


@dataclass(frozen=True)
class Scenario:
    clusters: tuple[ClusterSpec, ...]
    templates: tuple[TemplateSpec, ...]
    instances: tuple[InstanceSeed, ...] = ()
    precheck_rules: tuple[PrecheckRule, ...] = ()
    failure_rules: tuple[FailureRule, ...] = ()
    timing: Timing = Timing()
    account: Account | None = None
    source: str = "<scenario>"


def demo_scenario_path() -> Path:
    """The packaged demo scenario (see the comment header of the file)."""
    return Path(str(resources.files("reconciler.emulator") / "scenarios" / "demo.yaml"))


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


# --- loading -------------------------------------------------------------------------------


class _Reader:
    """Typed access to a YAML mapping; every error names file and key path."""

    def __init__(self, source: str, path: str, data: JSON) -> None:
        self.source, self.path, self.data = source, path, data
        if not isinstance(data, Mapping):
            self.fail(f"must be a mapping, got {type(data).__name__}")

    def fail(self, what: str, key: str | None = None) -> None:
        where = self.path if key is None else (f"{self.path}.{key}" if self.path else key)
        raise ScenarioError(f"{self.source}: {where or '(top level)'}: {what}")

    def child_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed and not str(key).startswith("x-"):
                self.fail(f"unknown key; valid keys: {', '.join(sorted(allowed))}", str(key))

    def get(self, key: str, kind: type | tuple[type, ...], default: JSON = ..., *,
            required: bool = False) -> JSON:
        if key not in self.data or self.data[key] is None:
            if required or default is ...:
                self.fail("is required", key)
            return default
        value = self.data[key]
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # YAML reads 1.30 as a float; versions are strings
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.fail(f"must be {names}, got {type(value).__name__}", key)
        return value

    def items(self, key: str, required: bool = False) -> list[_Reader]:
        seq = self.get(key, list, default=[], required=required)
        return [_Reader(self.source, f"{self.child_path(key)}[{i}]", v) for i, v in enumerate(seq)]


def _regex(reader: _Reader, key: str) -> str | None:
    value: str | None = reader.get(key, str, default=None)
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            reader.fail(f"is not a valid regular expression: {exc}", key)
    return value


def _account(r: _Reader) -> Account:
    r.check_keys({"project_id", "access_key", "secret_key", "token"})
    return Account(
        project_id=r.get("project_id", str, required=True),
        access_key=r.get("access_key", str, required=True),
        secret_key=r.get("secret_key", str, required=True),
        token=r.get("token", str, required=True),
    )


def _timing(r: _Reader) -> Timing:
    names = {f.name for f in fields(Timing)}
    r.check_keys(names)
    kwargs = {name: r.get(name, float, default=getattr(Timing(), name)) for name in names}
    for name, value in kwargs.items():
        if value < 0:
            r.fail("must be >= 0", name)
    return Timing(**kwargs)


def _cluster(r: _Reader) -> ClusterSpec:
    r.check_keys({"id", "name", "version", "type", "category", "phase", "platform_version",
                  "nodes"})
    cid: str = r.get("id", str, required=True)
    version: str = r.get("version", str, required=True)
    if not re.fullmatch(r"v\d+\.\d+(\.\d+)?(-r\d+)?", version):
        r.fail("must look like v1.29 or v1.29.3-r0", "version")
    nodes = []
    for n in r.items("nodes"):
        n.check_keys({"uid", "name"})
        nodes.append(NodeSpec(uid=n.get("uid", str, required=True),
                              name=n.get("name", str, required=True)))
    if not nodes:
        nodes = [NodeSpec(uid=f"{cid[:8]}-node-{i}", name=f"192.168.0.{10 + i}") for i in (1, 2)]
    cluster_type: str = r.get("type", str, "VirtualMachine")
    if cluster_type not in ("VirtualMachine", "BareMetal", "ARM64"):
        r.fail("must be VirtualMachine, BareMetal or ARM64", "type")
    return ClusterSpec(
        id=cid,
        name=r.get("name", str, required=True),
        version=version,
        type=cluster_type,
        category=r.get("category", str, "CCE"),
        phase=r.get("phase", str, "Available"),
        platform_version=r.get("platform_version", str, "cce.10.0"),
        nodes=tuple(nodes),
    )


def _template_version(r: _Reader) -> TemplateVersionSpec:
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


def _template(r: _Reader) -> TemplateSpec:
    r.check_keys({"name", "alias", "type", "require", "labels", "description", "logo_url",
                  "custom_required", "versions"})
    name: str = r.get("name", str, required=True)
    versions = tuple(_template_version(v) for v in r.items("versions", required=True))
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


_INSTANCE_STATUSES = {
    "running", "abnormal", "installing", "installFailed", "upgrading", "upgradeFailed",
    "deleting", "deleteFailed", "available", "rollbacking", "rollbackFailed", "unknown",
}


def _instance(r: _Reader, clusters: dict[str, ClusterSpec], templates: dict[str, TemplateSpec],
              project_id: str) -> InstanceSeed:
    r.check_keys({"id", "cluster", "template", "version", "flavor", "values", "status", "reason",
                  "message", "previous_version", "is_rollbackable"})
    cluster_ref: str = r.get("cluster", str, required=True)
    cluster = clusters.get(cluster_ref) or next(
        (c for c in clusters.values() if c.name == cluster_ref), None
    )
    if cluster is None:
        r.fail(f"no cluster with id or name {cluster_ref!r}", "cluster")
        raise AssertionError  # unreachable: fail raises
    tname: str = r.get("template", str, required=True)
    template = templates.get(tname)
    if template is None:
        r.fail(f"unknown template {tname!r}; known: {', '.join(sorted(templates))}", "template")
        raise AssertionError
    version: str = r.get("version", str, required=True)
    tv = template.version(version)
    if tv is None:
        r.fail(f"template {tname} has no version {version}; versions: "
               f"{', '.join(v.version for v in template.versions)}", "version")
        raise AssertionError
    flavor: str | None = r.get("flavor", str, None)
    if flavor is not None and tv.flavor(flavor) is None:
        r.fail(f"template {tname} {version} has no flavor named {flavor}", "flavor")
    values = deep_merge(default_values(tv, flavor, cluster.id, project_id),
                        r.get("values", dict, {}))
    status: str = r.get("status", str, "running")
    if status not in _INSTANCE_STATUSES:
        r.fail(f"must be one of {', '.join(sorted(_INSTANCE_STATUSES))}", "status")
    return InstanceSeed(
        id=r.get("id", str, required=True),
        cluster_id=cluster.id,
        template=tname,
        version=version,
        values=values,
        status=status,
        reason=r.get("reason", str, ""),
        message=r.get("message", str, ""),
        previous_version=r.get("previous_version", str, ""),
        is_rollbackable=r.get("is_rollbackable", bool, False),
    )


def _cluster_ref(r: _Reader, clusters: dict[str, ClusterSpec]) -> str | None:
    ref: str | None = r.get("cluster", str, None)
    if ref is None:
        return None
    cluster = clusters.get(ref) or next((c for c in clusters.values() if c.name == ref), None)
    if cluster is None:
        r.fail(f"no cluster with id or name {ref!r}", "cluster")
        raise AssertionError
    return cluster.id


def _precheck_rule(r: _Reader, clusters: dict[str, ClusterSpec]) -> PrecheckRule:
    r.check_keys({"template", "cluster", "check_type", "target_version", "instance_status",
                  "risk", "level", "message"})
    level: str = r.get("level", str, "Warning")
    if level not in ("Warning", "Fatal"):
        r.fail("must be Warning or Fatal", "level")
    check_type: str | None = r.get("check_type", str, None)
    if check_type not in (None, "addonUpgrade", "addonStatic"):
        r.fail("must be addonUpgrade or addonStatic", "check_type")
    statuses = r.get("instance_status", (list, str), None)
    return PrecheckRule(
        template=r.get("template", str, required=True),
        risk=r.get("risk", str, required=True),
        level=level,
        message=r.get("message", str, ""),
        cluster_id=_cluster_ref(r, clusters),
        check_type=check_type,
        target_version=_regex(r, "target_version"),
        instance_status=None if statuses is None else tuple(
            [statuses] if isinstance(statuses, str) else statuses
        ),
    )


def _failure_rule(r: _Reader, clusters: dict[str, ClusterSpec]) -> FailureRule:
    r.check_keys({"template", "cluster", "operation", "version", "reason", "message"})
    operation: str = r.get("operation", str, required=True)
    if operation not in ("install", "upgrade"):
        r.fail("must be install or upgrade", "operation")
    return FailureRule(
        template=r.get("template", str, required=True),
        operation=operation,
        reason=r.get("reason", str, ""),
        message=r.get("message", str, f"{operation} failed"),
        cluster_id=_cluster_ref(r, clusters),
        version=_regex(r, "version"),
    )


def scenario_from_mapping(data: JSON, source: str = "<scenario>") -> Scenario:
    root = _Reader(source, "", data)
    root.check_keys({"account", "timing", "clusters", "templates", "instances",
                     "precheck_rules", "failure_rules"})
    account = _account(_Reader(source, "account", data["account"])) if data.get("account") else None
    timing = _timing(_Reader(source, "timing", data["timing"])) if data.get("timing") else Timing()
    clusters: dict[str, ClusterSpec] = {}
    for r in root.items("clusters", required=True):
        c = _cluster(r)
        if c.id in clusters:
            r.fail(f"duplicate cluster id {c.id}", "id")
        clusters[c.id] = c
    templates: dict[str, TemplateSpec] = {}
    for r in root.items("templates", required=True):
        t = _template(r)
        if t.name in templates:
            r.fail(f"duplicate template {t.name}", "name")
        templates[t.name] = t
    project_id = account.project_id if account else ""
    instances: list[InstanceSeed] = []
    seen: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for r in root.items("instances"):
        inst = _instance(r, clusters, templates, project_id)
        if (inst.cluster_id, inst.template) in seen:
            r.fail(f"{inst.template} is already installed on cluster {inst.cluster_id}", "template")
        if inst.id in ids:
            r.fail(f"duplicate instance id {inst.id}", "id")
        seen.add((inst.cluster_id, inst.template))
        ids.add(inst.id)
        instances.append(inst)
    return Scenario(
        clusters=tuple(clusters.values()),
        templates=tuple(templates.values()),
        instances=tuple(instances),
        precheck_rules=tuple(_precheck_rule(r, clusters) for r in root.items("precheck_rules")),
        failure_rules=tuple(_failure_rule(r, clusters) for r in root.items("failure_rules")),
        timing=timing,
        account=account,
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{where}: invalid YAML: {exc}") from exc
    return scenario_from_mapping(data, str(path))
