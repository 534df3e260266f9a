"""The value checks of plan, for ``validate`` without network (pure).

``validate`` has no live add-ons, only the template catalogue and the
clusters' Kubernetes versions a previous plan read (run/templatecache.py).
That resolves what is pinned (``version: 1.30.15``) and what is a constraint
(``latest``, ``~1.30``); an add-on that declares no version keeps its live
one, which only a plan knows: it is skipped and said so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.engine import checks
from reconciler.engine.constraints import resolve_constraint
from reconciler.engine.normalise import normalise
from reconciler.engine.values import defaults_for
from reconciler.model.desired import ClusterSpec
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.live import AddonTemplate, Cluster, TemplateVersion

__all__ = ["OfflineCheck", "check_values_offline"]


@dataclass
class OfflineCheck:
    problems: list[Diagnostic] = field(default_factory=list)
    checked: int = 0
    """Add-ons whose values were checked."""
    skipped: list[str] = field(default_factory=list)
    """``cluster/addon: why`` for those that could not be."""


def check_values_offline(spec: ClusterSpec, templates: Mapping[str, AddonTemplate],
                         cluster: Cluster | None, into: OfflineCheck) -> None:
    """Check ``spec``'s declared values against ``templates`` (``cluster``: the
    live cluster as last read, None if no plan read it)."""
    for addon in spec.addons:
        if addon.state == "absent" or not (addon.values or addon.ignore_changes):
            continue
        template = templates.get(addon.name)
        if template is None:
            into.skipped.append(f"{spec.name}/{addon.name}: no such template in the catalogue")
            continue
        version: TemplateVersion | None = None
        if addon.version_constraint is not None:
            if cluster is None:
                into.skipped.append(f"{spec.name}/{addon.name}: `{addon.version_constraint}` "
                                    "needs the cluster's Kubernetes version (plan it once)")
                continue
            resolved = resolve_constraint(spec, addon, template, cluster,
                                          addon.version_constraint)
            version = resolved if isinstance(resolved, TemplateVersion) else None
        elif addon.version is not None:
            version = template.version(addon.version)
        else:
            into.skipped.append(f"{spec.name}/{addon.name}: no version declared (the live "
                                "one is kept, which only plan reads)")
            continue
        if version is None or (addon.flavor is not None and addon.flavor not in version.flavors):
            into.skipped.append(f"{spec.name}/{addon.name}: the version or flavor is not in "
                                "the catalogue (plan reports it)")
            continue
        defaults = defaults_for(version, None, addon)
        desired = normalise(addon.values, defaults.values)
        into.problems += checks.value_problems(spec, addon, version, desired, defaults.values,
                                               defaults.flavor)
        into.checked += 1
