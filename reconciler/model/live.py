"""Live state as read from the CCE API, reduced to what the reconciler needs.

The cloud layer builds these from wire JSON (tolerating the documented
disagreements between examples and tables); the engine only ever sees these.
All types are frozen; ``Mapping`` fields must be treated as read-only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model.json import JSON

__all__ = [
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "READY_STATUSES",
    "AddonInstance",
    "AddonPrecheckTask",
    "AddonTemplate",
    "CheckItem",
    "CheckStatus",
    "Cluster",
    "ClusterPrecheckTask",
    "InstanceStatus",
    "LiveCluster",
    "Risk",
    "SupportVersion",
    "TemplateVersion",
]

# Add-on instance statuses, as on the wire (``status.status``). The wire
# status fields of this module (instance ``status``, risk ``level``/``status``,
# task ``status``/``phase``) stay ``str``, not enums: CCE may add a value, and
# an unknown one must not crash a refresh. Known values are these sets; the
# plan's own enums (``FindingLevel``, ``FindingStatus``) are mapped from them.
READY_STATUSES = frozenset({"running", "available"})
IN_PROGRESS_STATUSES = frozenset(
    {"installing", "upgrading", "deleting", "rollbacking"}
)
FAILED_STATUSES = frozenset(
    {"installFailed", "upgradeFailed", "deleteFailed", "rollbackFailed", "unknown"}
)
UNHEALTHY_STATUSES = FAILED_STATUSES | {"abnormal"}
"""A declared add-on in one of these is planned as ``repair`` (docs/actions.md)."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """A CCE cluster (``GET …/clusters/{id}``)."""

    id: str
    name: str
    version: str
    """Kubernetes version as the API gives it: ``v1.28``, ``v1.28.3-r0``."""
    type: str
    """``VirtualMachine``, ``BareMetal`` or ``ARM64``."""
    category: str
    """``CCE``, ``Turbo`` or ``Autopilot``."""
    phase: str
    """``status.phase``: only ``Available`` accepts add-on writes."""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    """``metadata.labels`` (``reconciler init`` writes them into the file; the
    labels a plan selects by are the file's own)."""

    @property
    def minor_version(self) -> str:
        """``v1.28.3-r0`` → ``v1.28``; used for ``supportVersions`` matching."""
        m = re.match(r"^(v\d+\.\d+)", self.version)
        return m.group(1) if m else self.version


@dataclass(frozen=True, slots=True)
class SupportVersion:
    """One ``supportVersions`` entry of a template version."""

    cluster_type: str
    cluster_versions: tuple[str, ...]
    """Regular expressions matched against the cluster's Kubernetes version."""
    categories: tuple[str, ...] = ()
    """Empty means CCE and Turbo."""

    def matches(self, cluster_type: str, category: str, k8s_version: str) -> bool:
        if self.cluster_type and self.cluster_type != cluster_type:
            return False
        allowed = self.categories or ("CCE", "Turbo")
        if category and category not in allowed:
            return False
        return any(_full_match(rx, k8s_version) for rx in self.cluster_versions)


def _full_match(pattern: str, version: str) -> bool:
    """A ``clusterVersion`` regex matches the minor (``v1.28``) or full version."""
    try:
        rx = re.compile(pattern)
    except re.error:
        return pattern == version
    minor = re.match(r"^(v\d+\.\d+)", version)
    candidates = {version, minor.group(1) if minor else version}
    return any(rx.fullmatch(c) for c in candidates)


@dataclass(frozen=True)
class TemplateVersion:
    """One version of an add-on template, with its default ``input``."""

    version: str
    input: Mapping[str, JSON]
    """``{"basic": {...}, "parameters": {"custom": {...}, "flavor1": {...}, ...}}``."""
    stable: bool = True
    support_versions: tuple[SupportVersion, ...] = ()

    def supports(self, cluster_type: str, category: str, k8s_version: str) -> bool:
        return any(
            sv.matches(cluster_type, category, k8s_version) for sv in self.support_versions
        )

    # Cached (the instance is frozen and ``input`` read-only): the planner asks
    # for these for every add-on of every cluster, and the flavor scan with its
    # regex was a tenth of a first plan's CPU.

    @functools.cached_property
    def basic(self) -> Mapping[str, JSON]:
        basic = self.input.get("basic")
        return basic if isinstance(basic, Mapping) else {}

    @functools.cached_property
    def custom(self) -> Mapping[str, JSON]:
        params = self.input.get("parameters")
        custom = params.get("custom") if isinstance(params, Mapping) else None
        return custom if isinstance(custom, Mapping) else {}

    @functools.cached_property
    def flavors(self) -> Mapping[str, Mapping[str, JSON]]:
        """Flavor presets keyed by ``str(preset["name"])`` (e.g. ``"2500"``,
        ``"HA50"``), in template order (``flavor1``, ``flavor2``, …)."""
        params = self.input.get("parameters")
        if not isinstance(params, Mapping):
            return {}
        out: dict[str, Mapping[str, JSON]] = {}
        for key in sorted(k for k in params if re.fullmatch(r"flavor\d+", k)):
            preset = params[key]
            if isinstance(preset, Mapping):
                out[str(preset.get("name", key))] = preset
        return out


@dataclass(frozen=True, slots=True)
class AddonTemplate:
    """An add-on template (``GET /api/v3/addontemplates`` item)."""

    name: str
    alias: str = ""
    type: str = "helm"
    require: bool = False
    labels: tuple[str, ...] = ()
    description: str = ""
    versions: tuple[TemplateVersion, ...] = ()

    def version(self, version: str) -> TemplateVersion | None:
        return next((v for v in self.versions if v.version == version), None)


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """``status`` of an add-on instance."""

    status: str
    reason: str = ""
    """Wire name ``Reason`` (capital R)."""
    message: str = ""
    current_version: str | None = None
    """``status.currentVersion.version``."""
    target_versions: tuple[str, ...] | None = None
    is_rollbackable: bool = False
    previous_version: str = ""


@dataclass(frozen=True, slots=True)
class AddonInstance:
    """An add-on instance (``GET /api/v3/addons`` item)."""

    uid: str
    name: str
    cluster_id: str
    template_name: str
    version: str
    values: Mapping[str, JSON]
    status: InstanceStatus
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True, slots=True)
class Risk:
    """One ``riskList`` entry of an add-on precheck task."""

    name: str
    level: str
    """``Warning`` (may be accepted) or ``Fatal`` (always blocks)."""
    status: str
    """``Init``, ``Running``, ``Success`` or ``Failed``; only ``Failed`` is a finding."""
    message: str = ""


@dataclass(frozen=True, slots=True)
class AddonPrecheckTask:
    """An add-on check task (one per add-on in a batch precheck)."""

    task_id: str
    type: str
    """``addonUpgrade`` or ``addonStatic``."""
    template_name: str
    instance_id: str
    instance_name: str = ""
    target_version: str = ""
    status: str = "Init"
    message: str = ""
    risks: tuple[Risk, ...] = ()
    created_at: str = ""
    expires_at: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("Success", "Failed")


@dataclass(frozen=True, slots=True)
class CheckItem:
    """An item of a cluster pre-upgrade check (``itemsStatus[]``)."""

    name: str
    kind: str = ""
    group: str = ""
    level: str = ""
    phase: str = ""
    message: str = ""
    addon_risks: tuple[str, ...] = ()
    """Template names from ``riskSource.addonRisks[].addonTemplateName``."""
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """``clusterCheckStatus`` / ``addonCheckStatus`` / ``nodeCheckStatus``."""

    phase: str = ""
    items: tuple[CheckItem, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterPrecheckTask:
    """A cluster pre-upgrade check task (``…/operation/precheck/tasks/{id}``)."""

    uid: str
    phase: str
    """``Init``, ``Running``, ``Success``, ``Failed`` or ``Error``."""
    cluster_version: str = ""
    target_version: str = ""
    message: str = ""
    created_at: str = ""
    expires_at: str = ""
    cluster_check: CheckStatus = field(default_factory=CheckStatus)
    addon_check: CheckStatus = field(default_factory=CheckStatus)
    node_check: CheckStatus = field(default_factory=CheckStatus)

    @property
    def finished(self) -> bool:
        return self.phase in ("Success", "Failed", "Error")


@dataclass(frozen=True, slots=True)
class LiveCluster:
    """Everything a plan reads of one cluster: the cluster and its instances."""

    cluster: Cluster
    instances: tuple[AddonInstance, ...]
