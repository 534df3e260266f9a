"""What the operator's policies said of a plan (``--policy DIR``).

Policies are Rego files evaluated against a document built from the plan
(``reconciler.policy``, docs/policy.md). Their results are recorded in the plan
(a saved plan carries them, sealed by its digest) so that a reviewer sees them
beside the changes and ``apply PLAN`` can tell whether the policies it runs
with are the ones the plan was checked against (``PolicyReport.digest``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["PolicyLevel", "PolicyReport", "PolicyResult"]


class PolicyLevel(enum.StrEnum):
    """conftest's levels: a ``deny``/``violation`` rule fails, a ``warn`` rule is shown."""

    DENY = "deny"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One message of one rule, e.g. ``main.deny_prod_delete``: "no deletes in prod: …"."""

    namespace: str
    """The Rego package, without ``data.`` (``main``)."""
    rule: str
    """The rule's name (``deny``, ``deny_prod_delete``, ``violation``, ``warn_versions``)."""
    level: PolicyLevel
    message: str
    accepted: bool = False
    """A denial overridden by ``--accept-policy`` (named by rule or message); the
    override is journalled with its actor when the plan is applied."""

    @property
    def qualified_rule(self) -> str:
        return f"{self.namespace}.{self.rule}"

    @property
    def denies(self) -> bool:
        """A denial nobody accepted: plan exits 1 and apply refuses."""
        return self.level is PolicyLevel.DENY and not self.accepted


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """The results of one policy set on one plan."""

    digest: str
    """``sha256:…`` over the policy files (paths and contents) and namespaces: a
    saved plan records it, and ``apply PLAN`` refuses when the policies changed."""
    namespaces: tuple[str, ...]
    files: tuple[str, ...]
    """The Rego files evaluated, as the operator named them (for the reader)."""
    results: tuple[PolicyResult, ...] = ()

    @property
    def denied(self) -> tuple[PolicyResult, ...]:
        return tuple(r for r in self.results if r.denies)

    @property
    def accepted(self) -> tuple[PolicyResult, ...]:
        return tuple(r for r in self.results if r.accepted)

    @property
    def warnings(self) -> tuple[PolicyResult, ...]:
        return tuple(r for r in self.results if r.level is PolicyLevel.WARN)
