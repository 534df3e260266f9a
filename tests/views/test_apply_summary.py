"""Apply's last line says what happened: "Apply complete" only for a full success."""

from __future__ import annotations

import pytest

from reconciler.model.apply import AddonResult, ApplyResult, ClusterResult, Outcome
from reconciler.model.plan import Action
from reconciler.views.apply import apply_result_text, apply_summary

ACTION = {Outcome.INSTALLED: Action.INSTALL, Outcome.ADOPTED: Action.ADOPT,
          Outcome.DELETED: Action.DELETE, Outcome.UPDATED: Action.UPDATE}


def _result(*outcomes: Outcome, cluster_error: str = "") -> ApplyResult:
    addons = tuple(
        AddonResult(cluster="prod", addon=f"a{i}", action=ACTION.get(o, Action.UPGRADE),
                    outcome=o, message="why")
        for i, o in enumerate(outcomes)
    )
    clusters = [ClusterResult(name="prod", addons=addons)]
    if cluster_error:
        clusters.append(ClusterResult(name="dev", error=cluster_error))
    return ApplyResult(plan_id="p", clusters=tuple(clusters))


CASES = [
    ((Outcome.INSTALLED, Outcome.UPGRADED, Outcome.UPGRADED), "",
     "Apply complete: 1 installed, 2 upgraded, 0 updated, 0 deleted, 0 adopted;"
     " 0 blocked, 0 failed."),
    ((Outcome.INSTALLED, Outcome.UPGRADED, Outcome.ADOPTED, Outcome.FAILED, Outcome.BLOCKED), "",
     "Apply finished: 3 done (1 installed, 1 upgraded, 1 adopted), 1 failed, 1 blocked."),
    ((Outcome.BLOCKED, Outcome.SKIPPED), "",
     "Apply finished: 0 done, 0 failed, 1 blocked,"
     " 1 skipped (depend on a blocked or failed one)."),
    ((Outcome.ROLLED_BACK, Outcome.FAILED), "",
     "Apply finished: 0 done, 2 failed (1 rolled back), 0 blocked."),
    ((Outcome.UPDATED,), "cluster 'dev' is locked",
     "Apply finished: 1 done (1 updated), 0 failed, 0 blocked, 1 cluster(s) not applied."),
]


@pytest.mark.parametrize(("outcomes", "cluster_error", "expected"), CASES)
def test_the_summary_line(outcomes: tuple[Outcome, ...], cluster_error: str,
                          expected: str) -> None:
    result = _result(*outcomes, cluster_error=cluster_error)
    assert apply_summary(result) == expected
    assert ("Apply complete" in expected) is result.ok


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_failed_run_ends_with_apply_finished(fmt: str) -> None:
    text = apply_result_text(_result(Outcome.UPGRADED, Outcome.FAILED), fmt)
    last = text.rstrip("\n").splitlines()[-1]
    assert last == "Apply finished: 1 done (1 upgraded), 1 failed, 0 blocked."
    assert "Apply complete" not in text
