"""Plan-time checks (docs/planning.md, "Checks before anything is written"):
pure functions from specs and live data to diagnostics. No I/O, no writes: they
only read what the planner already has.

Each failure names the cluster and add-on (in ``key_path``) and what would be
valid (in ``hint``): close template names, the versions that would work for
this cluster, the flavor names of the version.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping

from reconciler.engine import secrets
from reconciler.engine.normalise import type_name
from reconciler.engine.valuekeys import UnknownKey, unknown_keys
from reconciler.model.desired import AddonSpec, ClusterSpec, SourceLocation
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, AddonTemplate, Cluster, TemplateVersion
from reconciler.model.plan import Change
from reconciler.model.valuepaths import ancestry

__all__ = [
    "dependency_problems",
    "diagnostic",
    "find_cycle",
    "ignore_paths",
    "install_problem",
    "listing",
    "mid_operation",
    "newest_supported_stable",
    "no_installable_version",
    "supporting_versions",
    "unknown_flavor",
    "unknown_template",
    "unknown_values",
    "unknown_version",
    "unsupported_version",
    "value_problems",
    "value_types",
    "version_key",
]

_MAX_LISTED = 12


def diagnostic(cluster: ClusterSpec, addon: AddonSpec | None, key: str, message: str,
               hint: str = "", severity: Severity = Severity.ERROR) -> Diagnostic:
    """A diagnostic pointing at the value of ``key`` in the add-on's block (the nearest
    written ancestor of it), else at the add-on (or cluster) block in the user's file."""
    location = (_value_location(addon, key) if addon else None) or (
        addon.location if addon else None) or cluster.location
    key_path = f"clusters.{cluster.name}"
    if addon is not None:
        key_path += f".addons.{addon.name}"
    if key:
        key_path += f".{key}"
    return Diagnostic(
        file=location.file if location else "",
        line=location.line if location else 0,
        column=location.column if location else 0,
        key_path=key_path,
        message=message,
        hint=hint,
        severity=severity,
    )


def _value_location(addon: AddonSpec, key: str) -> SourceLocation | None:
    for enclosing in ancestry(key):
        found = addon.value_locations.get(enclosing)
        if found is not None:
            return found
    return None


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Orders ``1.30.4`` before ``1.30.33``; non-numeric parts sort after numbers."""
    found = _VERSION_KEYS.get(version)
    if found is None:
        found = tuple((0, int(p)) if p.isdigit() else (1, p)
                      for p in re.split(r"[.\-+_]", version))
        if len(_VERSION_KEYS) > 10_000:
            _VERSION_KEYS.clear()
        _VERSION_KEYS[version] = found
    return found


_VERSION_KEYS: dict[str, tuple[tuple[int, int | str], ...]] = {}
"""Keys so far: every planned add-on compares its live and target versions, and
a fleet spells a few dozen versions (the split was 4% of a plan's CPU)."""


def is_downgrade(live: str, target: str) -> bool:
    """True if ``target`` sorts below ``live`` (1.3.60 < 1.3.68; 1.9 < 1.10)."""
    return version_key(target) < version_key(live)


def refused_downgrade(cluster: ClusterSpec, addon: AddonSpec, live: str,
                      target: str) -> Diagnostic:
    return diagnostic(
        cluster, addon, "version",
        f"version {target} of `{addon.name}` is below the live {live}: a downgrade",
        "set allow_downgrade: true on this add-on to downgrade it, or declare "
        f"version {live} or later",
    )


def repair_reason(instance: AddonInstance, target: str) -> str:
    """Why a repair is planned, with CCE's own Reason and message (the user
    needs them to tell a transient failure from a broken configuration)."""
    status = instance.status
    detail = ": ".join(p for p in (status.reason, status.message) if p)
    if not detail and status.status == "unknown":
        detail = "CCE: the template instance does not exist"
    said = f"the instance is {status.status}" + (f" ({detail})" if detail else "")
    sent = f"re-sending {target} with full values"
    if target != instance.version and target == status.previous_version:
        sent += " (the version it ran before the failed operation)"
    if status.status == "installFailed":
        if is_downgrade(instance.version, target):
            sent += f" (not a downgrade: {instance.version} never ran)"
        return f"{said}; the install never became healthy: {sent}"
    return f"{said}; {sent}"


def supporting_versions(template: AddonTemplate, cluster: Cluster,
                        k8s_version: str | None = None) -> list[str]:
    """Versions of ``template`` that support ``cluster`` (or ``k8s_version``), newest first."""
    target = k8s_version or cluster.version
    found = [v.version for v in template.versions
             if v.supports(cluster.type, cluster.category, target)]
    return sorted(found, key=version_key, reverse=True)


def newest_supported_stable(template: AddonTemplate, cluster: Cluster) -> TemplateVersion | None:
    candidates = [v for v in template.versions
                  if v.stable and v.supports(cluster.type, cluster.category, cluster.version)]
    return max(candidates, key=lambda v: version_key(v.version), default=None)


def listing(items: Iterable[str], empty: str = "none") -> str:
    names = list(items)
    if not names:
        return empty
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", … ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def unknown_template(cluster: ClusterSpec, addon: AddonSpec,
                     templates: Mapping[str, AddonTemplate]) -> Diagnostic:
    close = difflib.get_close_matches(addon.name, list(templates), n=3, cutoff=0.6)
    hint = f"did you mean {listing(f'`{c}`' for c in close)}?" if close else (
        f"templates available: {listing(sorted(templates))}")
    return diagnostic(cluster, addon, "", f"unknown add-on template `{addon.name}`", hint)


def unknown_version(cluster: ClusterSpec, addon: AddonSpec, template: AddonTemplate,
                    live_cluster: Cluster, version: str) -> Diagnostic:
    return diagnostic(
        cluster, addon, "version",
        f"version {version} of `{addon.name}` does not exist",
        f"versions that support this cluster ({_describe(live_cluster)}): "
        f"{listing(supporting_versions(template, live_cluster))}",
    )


def unsupported_version(cluster: ClusterSpec, addon: AddonSpec, template: AddonTemplate,
                        live_cluster: Cluster, version: str) -> Diagnostic:
    return diagnostic(
        cluster, addon, "version",
        f"`{addon.name}` {version} does not support this cluster ({_describe(live_cluster)})",
        f"versions that do: {listing(supporting_versions(template, live_cluster))}",
    )


def no_installable_version(cluster: ClusterSpec, addon: AddonSpec, template: AddonTemplate,
                           live_cluster: Cluster) -> Diagnostic:
    every = sorted((v.version for v in template.versions), key=version_key, reverse=True)
    return diagnostic(
        cluster, addon, "version",
        f"no stable version of `{addon.name}` supports this cluster ({_describe(live_cluster)})",
        f"versions of the template: {listing(every)}",
    )


def unknown_flavor(cluster: ClusterSpec, addon: AddonSpec, version: TemplateVersion,
                   flavor: str) -> Diagnostic:
    names = list(version.flavors)
    return diagnostic(
        cluster, addon, "flavor",
        f"`{addon.name}` {version.version} has no flavor named `{flavor}`",
        f"flavors: {listing(names, 'this version has no flavor presets')}",
    )


def mid_operation(cluster: ClusterSpec, addon: AddonSpec, status: str, action: str) -> Diagnostic:
    """A warning, not an error: apply waits for the operation in flight (within
    the add-on's timeout) and then re-plans the add-on (engine/replan.py)."""
    return diagnostic(
        cluster, addon, "",
        f"`{addon.name}` is {status}: apply waits for that operation to finish, then re-plans"
        f" the {action}",
        severity=Severity.WARNING,
    )


def value_types(cluster: ClusterSpec, addon: AddonSpec, desired: Mapping[str, JSON],
                schema: Mapping[str, JSON]) -> list[Diagnostic]:
    """Desired leaves whose type differs from the template default's at the
    same path. ``desired`` is already normalised, so ``"50"`` for a number has
    become ``50`` and passes; ``"fifty"`` does not. Defaults that are ``null``
    or ``""`` are placeholders in real templates and say nothing about type."""
    found: list[Diagnostic] = []
    _compare_types(desired, schema, "values", [], cluster, addon, found)
    return found


def _compare_types(value: JSON, default: JSON, path: str, segments: list[str],
                   cluster: ClusterSpec, addon: AddonSpec, found: list[Diagnostic]) -> None:
    if default is None or default == "":
        return
    if isinstance(value, Mapping) and isinstance(default, Mapping):
        for key, child in value.items():
            if key in default:
                _compare_types(child, default[key], f"{path}.{key}", [*segments, key],
                               cluster, addon, found)
        return
    expected, actual = type_name(default), type_name(value)
    if expected == actual:
        return
    hint = f"a {expected}"
    shows_default = expected not in ("map", "list")
    if shows_default and not secrets.node_is_sensitive(segments, ".".join(segments), default,
                                                        secrets.rules_for(addon)):
        hint += f", like the template default {json.dumps(default)}"
    found.append(diagnostic(
        cluster, addon, path,
        f"is a {actual}, but the template default of `{addon.name}` is a {expected}", hint))


def value_problems(cluster: ClusterSpec, addon: AddonSpec, version: TemplateVersion,
                   desired: Mapping[str, JSON], defaults: Mapping[str, JSON],
                   preset: str | None) -> list[Diagnostic]:
    """Everything wrong with the declared values for ``version`` (``desired``
    normalised against ``defaults``, the version's defaults with ``preset``):
    keys the template lacks, types that contradict its defaults, and
    ``ignore_changes`` paths that name nothing. Plan and validate share it."""
    unknown = unknown_keys(desired, defaults, addon.allow_unknown_values, source=version,
                           preset=preset)
    found = unknown_values(cluster, addon, version.version, unknown)
    found += value_types(cluster, addon, desired, defaults)
    found += ignore_paths(cluster, addon, version.version, defaults)
    return found


def unknown_values(cluster: ClusterSpec, addon: AddonSpec, version: str,
                   found: Iterable[UnknownKey]) -> list[Diagnostic]:
    """One error per declared key the template of ``version`` does not know
    (engine/valuekeys.py), at the key in the file, with the keys that exist."""
    problems: list[Diagnostic] = []
    for unknown in found:
        where = f"values.{unknown.parent}" if unknown.parent else "values"
        if unknown.close:
            hint = f"did you mean {unknown.close[0]}?"
        else:
            known = listing(f"`{k}`" for k in unknown.known) if unknown.known else "none"
            hint = f"keys of `{where}` in the template: {known}."
        hint += (f" If CCE accepts `{unknown.key}` anyway, list `{unknown.path}` in "
                 "allow_unknown_values")
        problems.append(diagnostic(
            cluster, addon, f"values.{unknown.path}",
            f"`{unknown.key}` is not a value of `{addon.name}` {version}", hint))
    return problems


def ignore_paths(cluster: ClusterSpec, addon: AddonSpec, version: str,
                 defaults: Mapping[str, JSON]) -> list[Diagnostic]:
    """``ignore_changes`` paths that name nothing in the template's default values
    (a typo would otherwise silently ignore nothing). Below a placeholder (``null``,
    ``""``), an empty map or an empty list the template says nothing, so any path
    is accepted there (``custom.stub_domains.*``, ``custom.tolerations[*].x``)."""
    found: list[Diagnostic] = []
    for index, pattern in enumerate(addon.ignore_changes):
        problem = _unmatched(defaults, pattern, "")
        if problem is None:
            continue
        where, valid = problem
        found.append(diagnostic(
            cluster, addon, f"ignore_changes[{index}]",
            f"ignore_changes path `{pattern}` matches nothing in the default values of "
            f"`{addon.name}` {version}",
            f"valid at `{where or 'values'}`: {valid}"))
    return found


def _unmatched(node: JSON, rest: str, where: str) -> tuple[str, str] | None:
    """None if ``rest`` can name something under ``node``, else (where it fails,
    what would be valid there)."""
    rest = rest.removeprefix(".")
    if not rest or node is None or node == "" or node == {} or node == []:
        return None
    if rest.startswith("["):
        end = rest.find("]")
        if isinstance(node, Mapping):
            return where, f"keys, not list items: {_level(node)}"
        if not isinstance(node, list):
            return where, f"nothing: it is a {type_name(node)}"
        # any item may be the one the path runs through (defaults show one shape)
        problems = [_unmatched(item, rest[end + 1:], f"{where}[*]") for item in node]
        return None if None in problems else problems[0]
    if not isinstance(node, Mapping):
        return where, f"nothing: it is a {type_name(node)}"
    if rest.startswith("*") and (len(rest) == 1 or rest[1] in ".["):
        problems = [_unmatched(child, rest[1:], f"{where}.{key}".lstrip("."))
                    for key, child in node.items()]
        return None if None in problems else problems[0]
    keys = [k for k in node if rest == k or rest.startswith((f"{k}.", f"{k}["))]
    if not keys:
        return where, _level(node)
    key = max(keys, key=len)  # keys may contain dots: the longest wins, as in paths.resolve
    return _unmatched(node[key], rest[len(key):], f"{where}.{key}".lstrip("."))


def _level(node: JSON) -> str:
    if isinstance(node, Mapping):
        return listing(sorted(str(k) for k in node)) + (", or `*` for any key")
    return "`[*]` or an index"


def dependency_problems(cluster: ClusterSpec) -> list[Diagnostic]:
    """``depends_on`` names declared, present add-ons (not itself) and has no cycle."""
    declared = {a.name: a for a in cluster.addons}
    found: list[Diagnostic] = []
    for addon in cluster.addons:
        for dep in addon.depends_on:
            if dep == addon.name:
                found.append(diagnostic(cluster, addon, "depends_on",
                                        f"`{addon.name}` depends on itself"))
            elif dep not in declared:
                found.append(diagnostic(
                    cluster, addon, "depends_on",
                    f"`{addon.name}` depends on `{dep}`, which this cluster does not declare",
                    f"declared add-ons: {listing(sorted(declared))}"))
            elif addon.state == "present" and declared[dep].state == "absent":
                found.append(diagnostic(
                    cluster, addon, "depends_on",
                    f"`{addon.name}` depends on `{dep}`, which is declared state: absent"))
    cycle = find_cycle({a.name: tuple(d for d in a.depends_on if d in declared and d != a.name)
                        for a in cluster.addons})
    if cycle:
        found.append(diagnostic(
            cluster, declared[cycle[0]], "depends_on",
            "depends_on has a cycle: " + " → ".join([*cycle, cycle[0]]),
            "remove one of these dependencies"))
    return found


def find_cycle(deps: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One dependency cycle (in order), or [] if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        stack.append(name)
        for dep in deps.get(name, ()):
            if state.get(dep) == 1:
                return stack[stack.index(dep):]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[name] = 2
        return []

    for name in deps:
        if name not in state:
            cycle = visit(name)
            if cycle:
                return cycle
    return []


def _describe(cluster: Cluster) -> str:
    return f"{cluster.category} {cluster.type} {cluster.version}"


def install_problem(
    change: Change, cluster: Cluster, catalogue: Mapping[str, AddonTemplate]
) -> str:
    """Why an install planned earlier can't go ahead now ("" if it can).

    Apply re-runs the plan-time template and version checks against what CCE
    offers at apply time: a saved plan may be applied days after it was made.
    """
    template = catalogue.get(change.addon)
    if template is None:
        return f"the template {change.addon} no longer exists"
    if not change.after_version:
        return ""
    version = template.version(change.after_version)
    if version is None:
        return f"version {change.after_version} of {change.addon} no longer exists"
    if not version.supports(cluster.type, cluster.category, cluster.version):
        return (
            f"version {change.after_version} of {change.addon} does not support this cluster"
            f" ({cluster.type}, {cluster.category}, Kubernetes {cluster.version})"
        )
    return ""
