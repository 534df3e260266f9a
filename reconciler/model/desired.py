"""The desired state: what the user's files say each cluster should run.

Built by ``reconciler.config`` from rendered, validated YAML. Values hold the
real secret values (they must be sent to the API); ``AddonSpec.secret_sources``
records which leaves came from ``secret()`` so every output can redact them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.json import JSON
from reconciler.model.regions import official_endpoint

if TYPE_CHECKING:
    from reconciler.model.rollout import Rollout

__all__ = [
    "AddonSpec",
    "ClusterSpec",
    "DesiredState",
    "OnFailure",
    "SourceLocation",
    "UpgradeReadiness",
    "default_endpoint",
]


class OnFailure(enum.StrEnum):
    """What apply does when an upgrade fails (a ``StrEnum``: YAML, plan JSON
    and text keep the lower-case word)."""

    FAIL = "fail"
    """Stop and report (default)."""
    ROLLBACK = "rollback"
    """Roll the failed upgrade back when CCE allows it."""


def default_endpoint(region: str) -> str:
    """The public CCE endpoint of a region, used when a cluster names none.

    One definition: config fills it into a ``ClusterSpec`` and the cloud
    session and ``import`` fall back to it, and they must agree. A region
    missing from the official table gets the usual pattern, which no file may
    use unless the operator allows it (``model/trust.py``).
    """
    return official_endpoint(region) or f"https://cce.{region}.myhuaweicloud.com"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class AddonSpec:
    """One add-on declared for one cluster (key: the template name)."""

    name: str
    """``addonTemplateName``."""
    state: str = "present"
    """``present`` or ``absent`` (delete if installed)."""
    version: str | None = None
    """Exact template version; ``None`` keeps the live version (or, on install,
    the newest stable version supporting the cluster)."""
    version_constraint: str | None = None
    """``latest``, ``~1.30`` or ``>=1.30,<1.31`` as written (then ``version`` is
    None): the planner resolves it per cluster to the newest template version
    that satisfies it and supports the cluster (and its readiness target)."""
    profile_origins: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Dotted path (``version``, ``flavor``, ``values.custom.servers[0]``, in the
    engine's spelling) → the name of the profile it came from; paths the
    cluster's own ``addons`` set (last, winning) are absent."""
    flavor: str | None = None
    """Name of a flavor preset of the target version (``str(preset["name"])``)."""
    values: Mapping[str, JSON] = field(default_factory=dict, repr=False)
    """Desired values (``basic``/``custom``/``flavor`` sub-maps), deep-merged
    over defaults and live values."""
    secret_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Dotted key path of each leaf of ``values`` that came from ``secret()``
    → the environment variable names it read. Never render these leaves."""
    secret_templates: Mapping[str, str] = field(default_factory=dict)
    """Same paths → the leaf with each secret written ``${NAME}`` (a literal
    ``$`` as ``$$``): what a saved plan rebuilds the leaf from at apply."""
    sensitive: tuple[str, ...] = ()
    """``sensitive:``: dotted paths the file declares sensitive (always redacted)."""
    not_sensitive: tuple[str, ...] = ()
    """``not_sensitive:``: paths never redacted because of their key's name
    (a ``secret()`` leaf stays sensitive regardless)."""
    precheck_accept: tuple[str, ...] = ()
    """Warning risk names that may be skipped (``precheck.accept``)."""
    ignore_changes: tuple[str, ...] = ()
    """Dotted key paths taken from live and never diffed."""
    allow_unknown_values: tuple[str, ...] = ()
    """``allow_unknown_values:``: value paths (wildcards as in ``ignore_changes``)
    where keys the template's defaults lack are accepted, not refused."""
    protect: bool = False
    """Refuse to delete (like Terraform's ``prevent_destroy``)."""
    depends_on: tuple[str, ...] = ()
    on_failure: OnFailure = OnFailure.FAIL
    """Roll a failed upgrade back when possible, or leave it failed."""
    allow_downgrade: bool = False
    """Allow ``version`` below the live one (a ``downgrade``); refused otherwise."""
    timeout_seconds: float | None = None
    """How long apply waits for this add-on to become healthy; None = default."""
    location: SourceLocation | None = None
    value_locations: Mapping[str, SourceLocation] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Where each value inside the add-on's block is written, by key path relative to
    the block (``version``, ``values.custom.servers[0]``): plan-time diagnostics
    point at the offending value, not at the add-on's name."""


@dataclass(frozen=True, slots=True)
class UpgradeReadiness:
    target_version: str


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """One cluster block (key: a name of the user's choice)."""

    name: str
    cluster_id: str
    region: str
    project_id: str
    endpoint: str
    """``https://…`` or ``emulator://NAME``."""
    addons: tuple[AddonSpec, ...]
    """In file order (the tie-break after ``depends_on`` when applying)."""
    prune: bool = False
    """Delete live add-ons that are not declared."""
    upgrade_readiness: UpgradeReadiness | None = None
    location: SourceLocation | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """``labels:``, matched by selectors (``env=prod``) wherever clusters are chosen."""
    profiles: tuple[str, ...] = ()
    """Profiles merged into ``addons``, in merge order (for provenance and display):
    those whose ``clusters:`` choose the cluster, then its own ``profiles:`` list."""

    def addon(self, name: str) -> AddonSpec | None:
        return next((a for a in self.addons if a.name == name), None)


@dataclass(frozen=True)
class DesiredState:
    """All clusters of all files of one run, after ``--cluster`` selection."""

    clusters: tuple[ClusterSpec, ...]
    files: tuple[str, ...] = ()
    state_url: str | None = None
    """The files' ``state:`` block (the same in every file that has one), if any."""
    rollout: Rollout | None = None
    """The files' ``rollout:`` block, if any (the same in every file that has one)."""
    digest: str = ""
    """sha256 of the rendered documents with secret values replaced by their
    hashes: changes when the input (or a secret) changes, reveals nothing."""
    profiles: tuple[str, ...] = ()
    """Every profile the files declare, in declaration order (``validate`` says
    how many clusters each applies to: a selector matching none shows there)."""
    warnings: tuple[Diagnostic, ...] = ()
    """Inputs that change nothing (config/unused.py): an unused ``--var``, a
    profile or a wave selector matching no cluster. Said, never fatal."""
