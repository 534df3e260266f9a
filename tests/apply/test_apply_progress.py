"""Progress output: log lines for pipes, a live view for terminals, and the summary."""

from __future__ import annotations

import io

from reconciler.model.apply import AddonResult, ApplyResult, ClusterResult, Outcome
from reconciler.model.plan import Action
from reconciler.views.apply import apply_result_json, apply_summary
from reconciler.views.progress import LogProgress, TerminalProgress, progress_for

UPGRADED = AddonResult(cluster="prod", addon="coredns", action=Action.UPGRADE,
                       outcome=Outcome.UPGRADED, from_version="1.29.4", to_version="1.30.33",
                       elapsed_s=12.34, accepted_risks=("K8sResourceModified",))
BLOCKED = AddonResult(cluster="prod", addon="everest", action=Action.UPGRADE,
                      outcome=Outcome.BLOCKED, from_version="2.4.7", to_version="2.4.28",
                      message="precheck: AddonValidate (Fatal)")


def test_log_progress_lines() -> None:
    out = io.StringIO()
    progress = LogProgress(out)
    progress.step("prod", "coredns: upgrading 1.29.4 → 1.30.33")
    progress.addon_done(UPGRADED)
    progress.addon_done(BLOCKED)
    progress.cluster_done(ClusterResult(name="prod", addons=(UPGRADED, BLOCKED), elapsed_s=13))
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "prod: coredns: upgrading 1.29.4 → 1.30.33",
        "prod: coredns: upgrade 1.29.4 → 1.30.33: upgraded after 12.3s"
        " (accepted risks: K8sResourceModified)",
        "prod: everest: upgrade 2.4.7 → 2.4.28: blocked — precheck: AddonValidate (Fatal)",
        "prod: done with problems in 13.0s",
    ]


def test_terminal_progress_prints_results_and_clears_its_live_lines() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, color=False)
    progress.step("prod", "coredns: upgrading")
    progress.addon_done(UPGRADED)
    progress.cluster_done(ClusterResult(name="prod", addons=(UPGRADED,), elapsed_s=12.5))
    progress.close()
    text = out.getvalue()
    assert "prod: coredns: upgrade 1.29.4 → 1.30.33: upgraded after 12.3s" in text
    assert "prod: done in 12.5s" in text


def test_a_pipe_gets_log_lines() -> None:
    assert isinstance(progress_for(io.StringIO(), color=False), LogProgress)


def test_summary_counts_every_outcome() -> None:
    result = ApplyResult(plan_id="p", clusters=(
        ClusterResult(name="prod", addons=(UPGRADED, BLOCKED)),
        ClusterResult(name="dev", error="cluster 'dev' is locked by someone"),
    ))
    assert not result.ok
    assert apply_summary(result) == (
        "Apply finished: 1 done (1 upgraded), 0 failed, 1 blocked, 1 cluster(s) not applied."
    )
    assert apply_result_json(result)["summary"]["blocked"] == 1
