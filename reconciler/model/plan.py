"""The plan: what apply would do, per cluster and add-on.

A ``Plan`` is produced by the pure planner from (desired, live, state) and is
the only input of apply. In memory, ``Change.values`` holds the real values to
send (secrets included); the plan file and every view see them redacted
(``reconciler.model.sensitive``). Text is produced only in ``views/``.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model.desired import OnFailure
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.json import JSON
from reconciler.model.policy import PolicyReport
from reconciler.model.rollout import Rollout

__all__ = [
    "PLAN_FORMAT_VERSION",
    "Action",
    "Change",
    "ClusterPlan",
    "FieldChange",
    "FieldChangeKind",
    "FindingLevel",
    "FindingStatus",
    "Plan",
    "PrecheckFinding",
    "ReadinessItem",
    "ReadinessReport",
]

PLAN_FORMAT_VERSION = 2
"""2 added the integrity ``digest`` (version 1 plans had none and are refused)."""


class FindingLevel(enum.StrEnum):
    """How a precheck finding blocks (a ``StrEnum``: plan JSON and text show the
    CCE spelling unchanged)."""

    WARNING = "Warning"
    """Blocks unless accepted (``precheck.accept`` / ``--accept-risk``)."""
    FATAL = "Fatal"
    """Always blocks."""

    @classmethod
    def of_risk(cls, level: str) -> FindingLevel:
        """A server risk level; one we do not know is Fatal, because only a
        known Warning may be accepted (fail closed, never crash a precheck)."""
        return cls.WARNING if level == cls.WARNING else cls.FATAL


class FindingStatus(enum.StrEnum):
    """Outcome of the check behind a finding (CCE's terminal risk statuses)."""

    SUCCESS = "Success"
    FAILED = "Failed"
    """Only a failed check blocks."""


class Action(enum.Enum):
    INSTALL = "install"
    """POST a new instance."""
    UPGRADE = "upgrade"
    """PUT a new version with full values."""
    UPDATE = "update"
    """PUT the same version with changed values."""
    REPAIR = "repair"
    """PUT the declared version with full values to an instance CCE reports as
    failed or abnormal (docs/actions.md), whatever the diff says."""
    DOWNGRADE = "downgrade"
    """PUT a version below the live one with full values; planned only with
    ``allow_downgrade: true`` (otherwise shown with an error and refused)."""
    DELETE = "delete"
    """DELETE; only for ``state: absent`` or ``prune: true``, never if protected."""
    ADOPT = "adopt"
    """An instance exists but is not in state and already matches: take it under
    management without a write. One that must be written is planned as an
    ``update`` or ``upgrade`` with ``Change.adopting`` (plans of older versions
    may still hold an adopt with ``field_changes``: apply writes it)."""
    NOOP = "no-op"
    REFRESH = "refresh"
    """State only: live already is what is wanted but the state lags it (another
    version, values or uid); apply records live and sends nothing."""


class FieldChangeKind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One differing leaf between live values and the full values to send."""

    path: str
    """Dotted key path (``custom.stub_domains.acme.local``); list indexes as ``[0]``."""
    kind: FieldChangeKind
    before: JSON = field(default=None, repr=False)
    after: JSON = field(default=None, repr=False)
    sensitive: bool = False
    """Render as ``(sensitive)``; never print ``before``/``after``."""


@dataclass(frozen=True, slots=True)
class PrecheckFinding:
    """A risk reported by a server precheck, as shown in a plan or apply."""

    addon: str
    risk: str
    level: FindingLevel
    status: FindingStatus
    message: str = ""
    accepted: bool = False
    """Warning accepted by ``precheck.accept`` or ``--accept-risk``."""
    task_id: str = ""

    @property
    def blocking(self) -> bool:
        if self.status != FindingStatus.FAILED:
            return False
        return self.level == FindingLevel.FATAL or not self.accepted


@dataclass(frozen=True, slots=True)
class ReadinessItem:
    """An ``addonCheckStatus`` item of a cluster pre-upgrade check."""

    name: str
    level: str
    phase: str
    message: str = ""
    addons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """Cluster upgrade readiness (``upgrade_readiness.target_version``)."""

    target_version: str
    task_id: str = ""
    phase: str = ""
    items: tuple[ReadinessItem, ...] = ()
    unsupported_addons: tuple[str, ...] = ()
    """Declared ``name@version`` that do not support the target version."""


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one add-on of one cluster."""

    addon: str
    """Template name."""
    action: Action
    instance_id: str = ""
    """Live ``metadata.uid`` (empty for install)."""
    before_version: str = ""
    after_version: str = ""
    values: Mapping[str, JSON] = field(default_factory=dict, repr=False)
    """Full values to send (real secrets in memory; redacted when serialised)."""
    field_changes: tuple[FieldChange, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)
    """Dotted leaf path → ``default`` | ``live`` | ``desired`` | ``derived``."""
    sensitive_paths: frozenset[str] = frozenset()
    """Leaves of ``values`` that must never be shown or written in clear."""
    secret_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Sensitive path → env var names (so apply of a saved plan can re-read them)."""
    secret_templates: Mapping[str, str] = field(default_factory=dict)
    """Same paths → the leaf as a template (``Bearer ${T}``, ``model.secret_template``):
    a saved plan holds only the hash of such a leaf and rebuilds it at apply."""
    reason: str = ""
    """Why this action was chosen; for the user, never for apply decisions."""
    depends_on: tuple[str, ...] = ()
    precheck_accept: tuple[str, ...] = ()
    on_failure: OnFailure = OnFailure.FAIL
    timeout_seconds: float | None = None
    findings: tuple[PrecheckFinding, ...] = ()
    """Server precheck risks (``plan --precheck``)."""
    adopting: bool = False
    """Apply also takes the instance under management (it is not in the state,
    or the state knows another uid); always so for ``adopt``."""
    version_constraint: str = ""
    """The declared constraint ``after_version`` was resolved from (``latest``,
    ``~1.30``); empty when the file pinned the version. Shown ``1.30.15 (from latest)``."""

    def __post_init__(self) -> None:
        # A plan of 10,000 clusters holds 80,000 changes: their repeated texts
        # (versions, reasons) as one string each and their empty secret maps as
        # one shared mapping, ~20 MB of the plan's peak memory. Nothing writes
        # to a change's mappings.
        if not self.secret_sources:
            object.__setattr__(self, "secret_sources", _NO_SECRETS)
        if not self.secret_templates:
            object.__setattr__(self, "secret_templates", _NO_SECRETS)
        for name in ("reason", "before_version", "after_version"):
            text = getattr(self, name)
            if type(text) is str:
                object.__setattr__(self, name, sys.intern(text))


_NO_SECRETS: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    name: str
    cluster_id: str
    endpoint: str
    project_id: str
    region: str
    kubernetes_version: str = ""
    state_lineage: str = ""
    """Lineage of the state file the plan was computed from ("" if none)."""
    state_serial: int = 0
    salt: str = ""
    """Salt of the sensitive hashes in this plan when the cluster had no state
    yet (apply seeds the new state with it); "" when the state's salt is used."""
    live_fingerprint: str = ""
    """HMAC-SHA256 over the live instances read (uid, version, status, values),
    keyed by the cluster's salt (``engine.fingerprint``)."""
    changes: tuple[Change, ...] = ()
    """Every declared add-on, no-ops included, in apply order."""
    unmanaged: tuple[str, ...] = ()
    """Live add-ons neither declared nor pruned: listed, left alone."""
    managed_undeclared: tuple[str, ...] = ()
    """Live add-ons in the state file but no longer declared (and not pruned):
    still managed, kept; ``prune: true`` would delete them."""
    errors: tuple[Diagnostic, ...] = ()
    readiness: ReadinessReport | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The cluster's ``labels:`` (for selectors, grouping and reports)."""
    wave: str = ""
    """The rollout wave the cluster is in ("" without a ``rollout:`` block)."""

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    tool_version: str
    desired_digest: str
    clusters: tuple[ClusterPlan, ...]
    files: tuple[str, ...] = ()
    format_version: int = PLAN_FORMAT_VERSION
    errors: tuple[Diagnostic, ...] = ()
    state_backend: str = "local"
    """The state store planned against (``StateBackend.identity``, never credentials)."""
    state_url: str = ""
    """The URL of that store when it is remote (credential-free: backend URLs never
    hold keys or passwords), so that ``apply PLAN`` opens it unless told otherwise."""
    targets: tuple[str, ...] = ()
    """``--addon`` names this plan was limited to (empty: every declared add-on)."""
    rollout: Rollout | None = None
    """The waves apply follows (a saved plan pins them); None: every cluster at once."""
    policy: PolicyReport | None = None
    """What the operator's policies (``--policy``) said of this plan; None when it was
    planned without policies. A saved plan keeps it: ``apply PLAN`` refuses when the
    policy set it runs with has another ``digest``."""

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(c.errors for c in self.clusters)

    @property
    def policy_denied(self) -> bool:
        """A policy denial nobody accepted: plan exits 1, apply writes nothing."""
        return self.policy is not None and bool(self.policy.denied)

    @property
    def has_changes(self) -> bool:
        return any(c.has_changes for c in self.clusters)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.clusters for ch in c.changes if ch.action is action)

    def count_blocked(self) -> int:
        """Changes a server precheck finding would stop (``plan --precheck``)."""
        return sum(1 for c in self.clusters for ch in c.changes
                   if any(f.blocking for f in ch.findings))

    def count_adopting(self, action: Action) -> int:
        """Changes of ``action`` that also adopt their instance."""
        return sum(1 for c in self.clusters for ch in c.changes
                   if ch.action is action and ch.adopting)
