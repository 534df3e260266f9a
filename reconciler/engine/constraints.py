"""Resolving a version constraint (``latest``, ``~1.30``, ``>=1.30,<1.31``) per cluster.

The newest template version that satisfies the constraint, supports the
cluster (Kubernetes version, type, category) and, when the cluster declares
``upgrade_readiness``, supports its target version too: one declaration then
serves a fleet of mixed Kubernetes versions. Stable versions win, as for an
install without a version (``checks.newest_supported_stable``); a pre-release
is chosen only when the constraint names it exactly (``==1.31.0``), so
``latest`` never rolls a beta onto a fleet. Pure.
"""

from __future__ import annotations

import re

from reconciler.engine import checks
from reconciler.model.desired import AddonSpec, ClusterSpec
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, Cluster, TemplateVersion
from reconciler.model.versions import parse_constraint

__all__ = ["resolve_constraint"]


def resolve_constraint(spec: ClusterSpec, addon: AddonSpec, template: AddonTemplate,
                       cluster: Cluster, constraint_text: str
                       ) -> TemplateVersion | Diagnostic:
    """The version ``constraint_text`` resolves to on ``cluster``, or the error
    naming the cluster, add-on, constraint, Kubernetes version and what exists."""
    try:
        constraint = parse_constraint(constraint_text)
    except ValueError as err:
        # config validates constraints first; this only guards a hand-built spec.
        return checks.diagnostic(spec, addon, "version", str(err))
    target = spec.upgrade_readiness.target_version if spec.upgrade_readiness else None
    fitting = [v for v in template.versions
               if constraint.allows(v.version)
               and v.supports(cluster.type, cluster.category, cluster.version)
               and (target is None or v.supports(cluster.type, cluster.category, target))]
    named = set(re.split(r"[\s,~<>=!]+", constraint_text))
    chosen = ([v for v in fitting if v.stable]
              or [v for v in fitting if v.version in named])
    if chosen:
        return max(chosen, key=lambda v: checks.version_key(v.version))
    return _no_match(spec, addon, template, cluster, constraint_text, target, fitting)


def _no_match(spec: ClusterSpec, addon: AddonSpec, template: AddonTemplate, cluster: Cluster,
              constraint: str, target: str | None,
              pre_releases: list[TemplateVersion]) -> Diagnostic:
    also = f" and its upgrade_readiness target {target}" if target else ""
    message = (f"cluster {spec.name} (Kubernetes {cluster.version}): no version of "
               f"`{addon.name}` satisfies `{constraint}` and supports the cluster{also}")
    supporting = checks.supporting_versions(template, cluster)
    every = sorted((v.version for v in template.versions), key=checks.version_key, reverse=True)
    hint = (f"versions that support this cluster ({cluster.category} {cluster.type} "
            f"{cluster.version}): {checks.listing(supporting)}; "
            f"versions of the template: {checks.listing(every)}")
    if pre_releases:
        names = sorted((v.version for v in pre_releases), key=checks.version_key, reverse=True)
        hint = (f"only pre-release versions fit ({checks.listing(names)}): name one exactly "
                f"to use it; " + hint)
    return checks.diagnostic(spec, addon, "version", message, hint)
