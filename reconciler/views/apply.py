"""The text of ``reconciler apply`` and ``reconciler import``: results, summaries, refusals.

The run hands back data (``ApplyResult``, an ``ApplyStop``); everything a user
reads about it is written here, so the command only copies these strings to
its streams.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.model.apply import ApplyResult, ApplyStopped, Outcome, Stop

__all__ = [
    "APPROVAL_PROMPT",
    "apply_result_json",
    "apply_result_text",
    "apply_summary",
    "import_text",
    "stopped_text",
]

APPROVAL_PROMPT = "Do you want to apply these changes? Only 'yes' will be accepted: "

_STOPPED = {
    Stop.NOTHING_TO_APPLY: "Nothing to apply.",
    Stop.CANCELLED: "Apply cancelled: nothing was changed.",
    Stop.SAVED_PLAN_EMPTY: "The plan has no changes: nothing to apply.",
    Stop.STALE: "Nothing was changed. Plan again, review, and apply the new plan.",
    Stop.POLICY_DENIED: "Apply refused: a policy denies the plan (see Policy above); nothing"
                        " was changed. Change the files, or override a denial with"
                        " --accept-policy RULE (recorded in the journal).",
}

_DONE = (Outcome.INSTALLED, Outcome.UPGRADED, Outcome.DOWNGRADED, Outcome.UPDATED,
         Outcome.REPAIRED, Outcome.DELETED, Outcome.ADOPTED)
_OPTIONAL = frozenset({Outcome.DOWNGRADED, Outcome.REPAIRED})
"""Counted only when non-zero, as in the plan's summary line."""


def apply_summary(result: ApplyResult, *, verdict: str = "", soak_failed: int = 0,
                  cluster_failed: int = 0, held_back: int = 0) -> str:
    """The last line of an apply, saying what happened (one line, no newline).

    ``Apply complete: 1 installed, …; 0 blocked, 0 failed.`` only when every
    change succeeded; otherwise ``Apply finished: 3 done (…), 1 failed,
    1 blocked.``: a run that exits 1 must not read as a success in a CI log.
    Outcomes most runs never have are left out at 0; a write that also adopts
    says so, like the plan's summary. A rollout passes its ``verdict`` (in place
    of "Apply finished"; never "complete") and the add-ons that turned
    unhealthy while soaking, which count as failed, the clusters its waves
    counted as failed before any add-on was written (``cluster_failed``: its
    report says "N failed" of them too) and those it held back (not started).
    """
    if result.ok and not verdict and not soak_failed:
        return f"Apply complete: {', '.join(_done_parts(result, zeros=True))}; 0 blocked, 0 failed."
    done_total = sum(result.count(o) for o in _DONE)
    done_parts = ", ".join(_done_parts(result, zeros=False))
    parts = [f"{done_total} done" + (f" ({done_parts})" if done_parts else "")]
    rolled_back = result.count(Outcome.ROLLED_BACK)
    failed = result.count(Outcome.FAILED) + rolled_back + soak_failed + cluster_failed
    why = [f"{rolled_back} rolled back"] if rolled_back else []
    why += [f"{soak_failed} unhealthy during the soak"] if soak_failed else []
    why += [f"{cluster_failed} cluster(s) not applied"] if cluster_failed else []
    parts.append(f"{failed} failed" + (f" ({', '.join(why)})" if why else ""))
    parts.append(f"{result.count(Outcome.BLOCKED)} blocked")
    if result.count(Outcome.SKIPPED):
        parts.append(f"{result.count(Outcome.SKIPPED)} skipped (depend on a blocked or failed one)")
    cluster_errors = sum(1 for c in result.clusters if c.error) - cluster_failed - held_back
    if cluster_errors > 0:
        parts.append(f"{cluster_errors} cluster(s) not applied")
    if held_back:
        parts.append(f"{held_back} cluster(s) not started (their wave's failure budget was"
                     " spent)")
    return f"{verdict or 'Apply finished'}: {', '.join(parts)}."


def _done_parts(result: ApplyResult, *, zeros: bool) -> list[str]:
    parts = []
    for o in _DONE:
        count = result.count(o)
        if not count and (o in _OPTIONAL or not zeros):
            continue
        adopting = result.count_adopting(o) if o is not Outcome.ADOPTED else 0
        parts.append(f"{count} {o.value}" + (f" ({adopting} adopting)" if adopting else ""))
    if result.count(Outcome.REFRESHED):
        parts.append(f"{result.count(Outcome.REFRESHED)} refreshed (state only)")
    return parts


def apply_result_json(result: ApplyResult) -> dict[str, Any]:
    """The ``--format json`` result document (format_version 1; key order is part of it)."""
    return {
        "format_version": 1,
        "plan_id": result.plan_id,
        "ok": result.ok,
        "summary": {
            **{o.value: result.count(o) for o in Outcome},
            "clusters_not_applied": sum(1 for c in result.clusters if c.error),
            "adopting": {
                o.value: n
                for o in Outcome
                if o is not Outcome.ADOPTED and (n := result.count_adopting(o))
            },
        },
        "clusters": [
            {
                "name": c.name,
                "error": c.error,
                "elapsed_s": round(c.elapsed_s, 3),
                "addons": [
                    {
                        "addon": r.addon,
                        "action": r.action.value,
                        "outcome": r.outcome.value,
                        "from_version": r.from_version,
                        "to_version": r.to_version,
                        "message": r.message,
                        "elapsed_s": round(r.elapsed_s, 3),
                        "precheck_task_ids": list(r.precheck_task_ids),
                        "accepted_risks": list(r.accepted_risks),
                        "adopting": r.adopting,
                    }
                    for r in c.addons
                ],
            }
            for c in result.clusters
        ],
    }


def apply_result_text(result: ApplyResult, fmt: str, *, summary: str = "") -> str:
    """What apply prints on stdout at the end: the problems, then the summary
    (``summary``, a rollout's, in place of ``apply_summary``)."""
    if fmt == "json":
        return json.dumps(apply_result_json(result), indent=2, sort_keys=True) + "\n"
    lines = [f"- {c.name}: not applied: {c.error}" for c in result.clusters if c.error]
    lines += [
        f"- {c.name}/{r.addon}: {r.action.value} {r.outcome.value}: {r.message}"
        for c in result.clusters
        for r in c.addons
        if not r.outcome.ok
    ]
    problems = ""
    if lines:
        header = "**Problems**" if fmt == "markdown" else "Problems:"
        problems = "\n" + header + "\n" + "\n".join(lines) + "\n"
    return f"{problems}\n{summary or apply_summary(result)}\n"


def stopped_text(stopped: ApplyStopped) -> str:
    """Why an apply wrote nothing (newline-terminated lines for stderr); a stale
    plan's reasons come first, one per line."""
    lines = [f"plan is stale: {reason}" for reason in stopped.stale_reasons]
    lines.append(_STOPPED[stopped.reason])
    return "".join(line + "\n" for line in lines)


def import_text(
    cluster: str, addon: str, *, version: str, uid: str, serial: int, already_managed: bool
) -> str:
    """The one line ``reconciler import`` prints on success (no newline)."""
    if already_managed:
        return f"{cluster}/{addon} is already managed (instance {uid})."
    return (f"Imported {cluster}/{addon} {version} (instance {uid})"
            f" into the state (serial {serial}); nothing was changed on the cluster.")
