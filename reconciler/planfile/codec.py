"""The canonical JSON form of a plan (documented in docs/plan-json.md).

It is the plan file format, the ``--format json`` output, and the only input of
the human renderers, so that what a reviewer reads and what apply executes can
never disagree. Leaves that came from ``secret()`` are replaced by salted
hashes here, on the way out of memory; ``plan_from_json`` keeps those markers
(apply re-reads the real secrets through ``Change.secret_sources`` and rebuilds
each leaf from ``Change.secret_templates``). Other sensitive leaves are hidden
in ``field_changes`` and by the views, but travel as planned in ``values``.

Key order is fixed by construction and by ``json.dumps(sort_keys=True)`` in
every writer; ``summary`` is derived and ignored when reading. Validation
against the shipped schema is ``planfile.schema``; the ``digest`` that seals the
JSON is ``planfile.integrity``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.kit.selectors import SelectorError, parse_pattern
from reconciler.model import valuepaths
from reconciler.model.desired import OnFailure
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.plan import (
    PLAN_FORMAT_VERSION,
    Action,
    Change,
    ClusterPlan,
    FieldChange,
    FieldChangeKind,
    FindingLevel,
    FindingStatus,
    Plan,
    PrecheckFinding,
    ReadinessItem,
    ReadinessReport,
)
from reconciler.model.policy import PolicyLevel, PolicyReport, PolicyResult
from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.model.sensitive import SensitiveRules, sensitive_leaves
from reconciler.planfile.integrity import plan_digest
from reconciler.planfile.redact import Hasher, path_is_sensitive, redact, salted_hasher
from reconciler.planfile.schema import schema_problems

__all__ = [
    "JSON_FORMAT_VERSION",
    "PlanFormatError",
    "dumps_plan_json",
    "plan_from_json",
    "plan_to_json",
]

JSON_FORMAT_VERSION = PLAN_FORMAT_VERSION

JSONDict = dict[str, Any]


class PlanFormatError(ValueError):
    """A JSON document that is not a plan this version can read."""


def plan_to_json(plan: Plan, *, salts: Mapping[str, str]) -> JSONDict:
    """The canonical, redacted JSON form; ``salts`` maps cluster name → salt.

    A salt is only needed for a cluster that has a sensitive value not yet
    redacted (a plan read back from a file needs none). ``digest`` seals the
    rest (``plan_digest``).
    """
    data: JSONDict = {
        "format_version": JSON_FORMAT_VERSION,
        "plan_id": plan.plan_id,
        "tool_version": plan.tool_version,
        "desired_digest": plan.desired_digest,
        "files": list(plan.files),
        "errors": [_diagnostic_to_json(d) for d in plan.errors],
        "summary": _summary(plan),
        # Only when targeted, so an untargeted plan is byte-identical to one
        # made before --addon existed (docs/plan-json.md).
        **({"targets": list(plan.targets)} if plan.targets else {}),
        # Always written (null without a rollout: block): a saved plan pins the
        # waves its apply follows, and the digest seals them.
        "rollout": None if plan.rollout is None else _rollout_to_json(plan.rollout),
        "clusters": [
            _cluster_to_json(c, salted_hasher(salts.get(c.name) or c.salt or None, c.name),
                             salts.get(c.name) or c.salt)
            for c in plan.clusters
        ],
    }
    if plan.policy is not None:
        # Only when planned with --policy, so a plan without reads as before.
        data["policy"] = policy_to_json(plan.policy)
    if plan.state_backend != "local":
        # Written only for a remote store, so a local plan is byte-identical to
        # one made before backends existed (and reads back as "local").
        data["state_backend"] = plan.state_backend
        if plan.state_url:
            data["state_url"] = plan.state_url
    data["digest"] = plan_digest(data)
    return data


def dumps_plan_json(plan_json: Mapping[str, Any]) -> str:
    """The one textual form of a JSON plan: sorted keys, indent 2, UTF-8 kept readable."""
    return json.dumps(plan_json, sort_keys=True, indent=2, ensure_ascii=False)


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    """Read a canonical JSON plan back; raises ``PlanFormatError`` naming what is wrong."""
    if not isinstance(data, Mapping):
        raise PlanFormatError(f"a plan is a JSON object, not {type(data).__name__}")
    version = data.get("format_version")
    if (isinstance(version, int) and not isinstance(version, bool)
            and 1 <= version < JSON_FORMAT_VERSION and "plan_id" in data):
        raise PlanFormatError(
            f"plan format_version {version} is an older format without an integrity digest:"
            " re-run `reconciler plan --out` with this reconciler"
        )
    if version != JSON_FORMAT_VERSION:
        raise PlanFormatError(
            f"unsupported plan format_version {version!r}: this reconciler reads "
            f"format_version {JSON_FORMAT_VERSION}; re-create the plan with `reconciler plan --out`"
        )
    problems = schema_problems(data)
    if problems:
        raise PlanFormatError(f"not a valid plan: {problems}")
    # Optional when read: a plan written before rollouts existed has none and
    # applies every cluster at once, as it did then.
    rollout = data.get("rollout")
    plan = Plan(
        plan_id=data["plan_id"],
        tool_version=data["tool_version"],
        desired_digest=data["desired_digest"],
        clusters=tuple(_cluster_from_json(c) for c in data["clusters"]),
        files=tuple(data["files"]),
        format_version=version,
        errors=tuple(_diagnostic_from_json(d) for d in data["errors"]),
        state_backend=data.get("state_backend", "local"),
        state_url=data.get("state_url", ""),
        targets=tuple(data.get("targets", ())),
        rollout=None if rollout is None else _rollout_from_json(rollout),
        policy=None if data.get("policy") is None else _policy_from_json(data["policy"]),
    )
    _check_waves(plan)
    _check_unique(plan)
    return plan


def _check_unique(plan: Plan) -> None:
    """Each cluster (by name and by id) and each add-on change of a cluster once.

    The planner never repeats one; a plan that does was edited (and re-digested):
    its changes duplicated 50 times would run 50 prechecks, two entries for one
    cluster could write it twice at once. Refused before anything runs. (Instance
    ids are checked against each cluster's live read when applying:
    ``apply.freshness.foreign_instances``.)"""
    names: set[str] = set()
    cluster_ids: set[str] = set()
    for cluster in plan.clusters:
        if cluster.name in names:
            raise PlanFormatError(f"not a valid plan: cluster {cluster.name} appears twice")
        names.add(cluster.name)
        if cluster.cluster_id.lower() in cluster_ids:
            raise PlanFormatError(
                f"not a valid plan: cluster_id {cluster.cluster_id} appears twice"
                f" (the second time for cluster {cluster.name})")
        cluster_ids.add(cluster.cluster_id.lower())
        addons: set[str] = set()
        for change in cluster.changes:
            if change.addon in addons:
                raise PlanFormatError(
                    f"not a valid plan: cluster {cluster.name}: add-on {change.addon} has more"
                    " than one change; a plan changes each add-on once")
            addons.add(change.addon)


def _check_waves(plan: Plan) -> None:
    """Every cluster's wave is one of the plan's waves (the schema can't say so)."""
    known = {w.name for w in plan.rollout.waves} if plan.rollout else set()
    if plan.rollout is not None and len(known) != len(plan.rollout.waves):
        raise PlanFormatError("not a valid plan: rollout.waves repeats a wave name")
    for wave in plan.rollout.waves if plan.rollout else ():
        for pattern in wave.clusters:
            try:
                parse_pattern(pattern)
            except SelectorError as err:
                raise PlanFormatError(
                    f"not a valid plan: rollout wave {wave.name}: {err}") from None
    for cluster in plan.clusters:
        if cluster.wave and cluster.wave not in known:
            raise PlanFormatError(
                f"not a valid plan: cluster {cluster.name} is in wave {cluster.wave!r}, which "
                f"the plan's rollout does not have ({', '.join(sorted(known)) or 'no waves'})")


# --- writing -----------------------------------------------------------------

_OPTIONAL_COUNTS = frozenset({Action.REPAIR, Action.DOWNGRADE})
"""Summary counts written only when non-zero, so a plan without these actions
is byte-identical to one made before they existed (docs/plan-json.md)."""



def _summary(plan: Plan) -> JSONDict:
    diagnostics = [*plan.errors, *(d for c in plan.clusters for d in c.errors)]
    counts: JSONDict = {action.value: plan.count(action) for action in Action
                        if action not in _OPTIONAL_COUNTS or plan.count(action)}
    if blocked := plan.count_blocked():
        # Written only when non-zero, like the optional action counts.
        counts["blocked"] = blocked
    counts.update(
        clusters=len(plan.clusters),
        clusters_with_changes=sum(1 for c in plan.clusters if c.has_changes),
        errors=sum(1 for d in diagnostics if d.severity != "warning"),
        warnings=sum(1 for d in diagnostics if d.severity == "warning"),
        has_changes=plan.has_changes,
        has_errors=any(d.severity != "warning" for d in diagnostics),
        # Writes that also adopt, by action: counted under their action, not "adopt".
        adopting={
            action.value: n
            for action in Action
            if action is not Action.ADOPT and (n := plan.count_adopting(action))
        },
    )
    return counts


def _diagnostic_to_json(d: Diagnostic) -> JSONDict:
    return {
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "key_path": d.key_path,
        "message": d.message,
        "hint": d.hint,
        "severity": d.severity,
    }


def _cluster_to_json(cluster: ClusterPlan, hasher: Hasher, salt: str) -> JSONDict:
    readiness = cluster.readiness
    return {
        "name": cluster.name,
        "cluster_id": cluster.cluster_id,
        "endpoint": cluster.endpoint,
        "project_id": cluster.project_id,
        "region": cluster.region,
        "kubernetes_version": cluster.kubernetes_version,
        "state_lineage": cluster.state_lineage,
        "state_serial": cluster.state_serial,
        # A salt is no secret; a first-run cluster's is kept so apply can check
        # the secrets it re-reads against the reviewed hashes.
        "salt": "" if cluster.state_lineage else salt,
        "live_fingerprint": cluster.live_fingerprint,
        "changes": [_change_to_json(ch, hasher) for ch in cluster.changes],
        "unmanaged": list(cluster.unmanaged),
        # Only when there are some: a plan without them reads as before.
        **({"managed_undeclared": list(cluster.managed_undeclared)}
           if cluster.managed_undeclared else {}),
        "errors": [_diagnostic_to_json(d) for d in cluster.errors],
        "readiness": None if readiness is None else _readiness_to_json(readiness),
        "labels": dict(sorted(cluster.labels.items())),
        "wave": cluster.wave,
    }


# Provenances whose values are the committed files' own text (or the public
# template's): a sensitive leaf from them may travel in a saved plan in clear.
_FROM_FILES = frozenset({"desired", "default", "derived"})


def _hashed_paths(change: Change) -> frozenset[str]:
    """The leaves of ``values`` the plan file holds only as hashes.

    What apply sends travels as planned: a leaf from ``secret()`` is hashed
    (apply rebuilds it from ``secret_templates``), and so is a sensitive leaf
    read from the live instance (apply takes it back from live, checked by
    hash). A sensitive plain literal of the desired files stays in clear: it is
    in the repository already, and hashing it made fresh plans "stale" (issue 11).
    Belt and braces: the one rule is applied again here, so a leaf the planner
    did not mark is still hashed unless the files hold it."""
    by_rule = sensitive_leaves(change.values, SensitiveRules(
        secret_paths=frozenset(change.secret_sources),
        declared=frozenset(change.sensitive_paths)))
    return frozenset(change.secret_sources) | {
        p for p in by_rule if not _from_files(_provenance(change.provenance, p))}


def _provenance(provenance: Mapping[str, str], path: str) -> str | None:
    """Where the leaf at ``path`` came from: its own entry or, for an item of a
    list (lists merge whole, so only the list has one), the nearest enclosing one."""
    for enclosing in valuepaths.ancestry(path):
        found = provenance.get(enclosing)
        if found is not None:
            return found
    return None


def _from_files(provenance: str | None) -> bool:
    # ``profile:NAME`` is a desired value too, written in a profile of the files.
    return provenance in _FROM_FILES or (provenance or "").startswith("profile:")


def _change_to_json(change: Change, hasher: Hasher) -> JSONDict:
    hashed = _hashed_paths(change)
    sensitive = change.sensitive_paths | hashed
    data: JSONDict = {
        "addon": change.addon,
        "action": change.action.value,
        "instance_id": change.instance_id,
        "before_version": change.before_version,
        "after_version": change.after_version,
        "values": redact(dict(change.values), "", hashed, hasher),
        "field_changes": [
            _field_change_to_json(fc, sensitive, hasher) for fc in change.field_changes
        ],
        "provenance": dict(sorted(change.provenance.items())),
        "sensitive_paths": sorted(sensitive),
        "secret_sources": {k: list(v) for k, v in sorted(change.secret_sources.items())},
        "reason": change.reason,
        "depends_on": list(change.depends_on),
        "precheck_accept": list(change.precheck_accept),
        "on_failure": change.on_failure,
        "timeout_seconds": change.timeout_seconds,
        "findings": [_finding_to_json(f) for f in change.findings],
        "adopting": change.adopting,
        "version_constraint": change.version_constraint,
    }
    if change.secret_templates:
        # Only when there are some: plans without secrets read as before.
        data["secret_templates"] = dict(sorted(change.secret_templates.items()))
    return data


def _field_change_to_json(fc: FieldChange, sensitive: frozenset[str], hasher: Hasher) -> JSONDict:
    # Belt and braces: a leaf is hidden if the planner marked it, or if it is
    # or lies under a sensitive leaf of the change; a node that only holds
    # one shows with that leaf hashed.
    if fc.sensitive or path_is_sensitive(fc.path, sensitive):
        return {"path": fc.path, "kind": fc.kind.value, "sensitive": True}
    return {
        "path": fc.path,
        "kind": fc.kind.value,
        "sensitive": False,
        "before": redact(fc.before, fc.path, sensitive, hasher),
        "after": redact(fc.after, fc.path, sensitive, hasher),
    }


def _finding_to_json(f: PrecheckFinding) -> JSONDict:
    return {
        "addon": f.addon,
        "risk": f.risk,
        "level": f.level,
        "status": f.status,
        "message": f.message,
        "accepted": f.accepted,
        "task_id": f.task_id,
        "blocking": f.blocking,
    }


def policy_to_json(report: PolicyReport) -> JSONDict:
    """A policy report's JSON form (the plan's ``policy`` member; docs/policy.md)."""
    return {
        "digest": report.digest,
        "namespaces": list(report.namespaces),
        "files": list(report.files),
        "results": [
            {"namespace": r.namespace, "rule": r.rule, "level": r.level.value,
             "message": r.message, "accepted": r.accepted}
            for r in report.results
        ],
        "denied": len(report.denied),
        "warnings": len(report.warnings),
        "accepted": len(report.accepted),
    }


def _policy_from_json(p: JSONDict) -> PolicyReport:
    return PolicyReport(
        digest=p["digest"], namespaces=tuple(p["namespaces"]), files=tuple(p["files"]),
        results=tuple(
            PolicyResult(namespace=r["namespace"], rule=r["rule"], level=PolicyLevel(r["level"]),
                         message=r["message"], accepted=r["accepted"])
            for r in p["results"]
        ),
    )


def _rollout_to_json(rollout: Rollout) -> JSONDict:
    # The waves as written, without their source locations (a plan may be
    # applied on another machine, from another checkout).
    return {
        "pause": rollout.pause.value,
        "waves": [
            {
                "name": w.name,
                "clusters": list(w.clusters),
                "soak_s": float(w.soak_s),
                "max_parallel": w.max_parallel,
                "max_failures": w.max_failures,
            }
            for w in rollout.waves
        ],
    }


def _readiness_to_json(r: ReadinessReport) -> JSONDict:
    return {
        "target_version": r.target_version,
        "task_id": r.task_id,
        "phase": r.phase,
        "items": [
            {
                "name": i.name,
                "level": i.level,
                "phase": i.phase,
                "message": i.message,
                "addons": list(i.addons),
            }
            for i in r.items
        ],
        "unsupported_addons": list(r.unsupported_addons),
    }


# --- reading -----------------------------------------------------------------


def _diagnostic_from_json(d: JSONDict) -> Diagnostic:
    return Diagnostic(
        file=d["file"],
        line=d["line"],
        column=d["column"],
        key_path=d["key_path"],
        message=d["message"],
        hint=d["hint"],
        severity=Severity(d["severity"]),
    )


def _cluster_from_json(c: JSONDict) -> ClusterPlan:
    readiness = c["readiness"]
    return ClusterPlan(
        name=c["name"],
        cluster_id=c["cluster_id"],
        endpoint=c["endpoint"],
        project_id=c["project_id"],
        region=c["region"],
        kubernetes_version=c["kubernetes_version"],
        state_lineage=c["state_lineage"],
        state_serial=c["state_serial"],
        salt=c.get("salt", ""),
        live_fingerprint=c["live_fingerprint"],
        changes=tuple(_change_from_json(ch) for ch in c["changes"]),
        unmanaged=tuple(c["unmanaged"]),
        managed_undeclared=tuple(c.get("managed_undeclared", ())),
        errors=tuple(_diagnostic_from_json(d) for d in c["errors"]),
        readiness=None if readiness is None else _readiness_from_json(readiness),
        labels=dict(c.get("labels", {})),
        wave=c.get("wave", ""),
    )


def _change_from_json(ch: JSONDict) -> Change:
    return Change(
        addon=ch["addon"],
        action=Action(ch["action"]),
        instance_id=ch["instance_id"],
        before_version=ch["before_version"],
        after_version=ch["after_version"],
        values=ch["values"],
        field_changes=tuple(_field_change_from_json(fc) for fc in ch["field_changes"]),
        provenance=dict(ch["provenance"]),
        sensitive_paths=frozenset(ch["sensitive_paths"]),
        secret_sources={k: tuple(v) for k, v in ch["secret_sources"].items()},
        secret_templates=dict(ch.get("secret_templates", {})),
        reason=ch["reason"],
        depends_on=tuple(ch["depends_on"]),
        precheck_accept=tuple(ch["precheck_accept"]),
        on_failure=OnFailure(ch["on_failure"]),
        timeout_seconds=ch["timeout_seconds"],
        findings=tuple(_finding_from_json(f) for f in ch["findings"]),
        # Optional: plans written before the flag existed read as not adopting.
        adopting=ch.get("adopting", False),
        version_constraint=ch.get("version_constraint", ""),
    )


def _field_change_from_json(fc: JSONDict) -> FieldChange:
    if fc["sensitive"]:
        return FieldChange(path=fc["path"], kind=FieldChangeKind(fc["kind"]), sensitive=True)
    return FieldChange(
        path=fc["path"], kind=FieldChangeKind(fc["kind"]), before=fc["before"], after=fc["after"]
    )


def _finding_from_json(f: JSONDict) -> PrecheckFinding:
    return PrecheckFinding(
        addon=f["addon"],
        risk=f["risk"],
        level=FindingLevel(f["level"]),
        status=FindingStatus(f["status"]),
        message=f["message"],
        accepted=f["accepted"],
        task_id=f["task_id"],
    )


def _rollout_from_json(r: JSONDict) -> Rollout:
    return Rollout(
        waves=tuple(
            Wave(name=w["name"], clusters=tuple(w["clusters"]), soak_s=float(w["soak_s"]),
                 max_parallel=w["max_parallel"], max_failures=w["max_failures"])
            for w in r["waves"]
        ),
        pause=PauseMode(r["pause"]),
    )


def _readiness_from_json(r: JSONDict) -> ReadinessReport:
    return ReadinessReport(
        target_version=r["target_version"],
        task_id=r["task_id"],
        phase=r["phase"],
        items=tuple(
            ReadinessItem(
                name=i["name"],
                level=i["level"],
                phase=i["phase"],
                message=i["message"],
                addons=tuple(i["addons"]),
            )
            for i in r["items"]
        ),
        unsupported_addons=tuple(r["unsupported_addons"]),
    )
