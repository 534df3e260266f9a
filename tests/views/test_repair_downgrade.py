"""How `repair` and `downgrade` read in every plan format (issue 11, paths 1 and 6)."""

from __future__ import annotations

import json
import re

from reconciler.model.plan import Action, Plan
from reconciler.planfile.codec import dumps_plan_json, plan_from_json, plan_to_json
from reconciler.views import render_plan
from tests.builders.plans import change, cluster, plan

RED_DOWN = re.compile(r"\x1b\[31m\s*↓ metrics-server: downgrade 1\.3\.68 → 1\.3\.60")
REASON = ("the instance is upgradeFailed (UpgradeFailed: helm upgrade failed); "
          "re-sending 3.0.8 with full values")


def _plan() -> Plan:
    return plan(cluster(
        "prod",
        change("metrics-server", Action.DOWNGRADE, instance_id="u1", before_version="1.3.68",
               after_version="1.3.60", reason="version 1.3.68 → 1.3.60"),
        change("nginx-ingress", Action.REPAIR, instance_id="u2", before_version="3.0.8",
               after_version="3.0.8", reason=REASON),
        change("coredns", Action.UPGRADE, instance_id="u3", before_version="1.29.4",
               after_version="1.30.33"),
    ))


def test_text_marks_a_downgrade_with_a_red_down_arrow_and_a_repair_with_its_reason() -> None:
    data = plan_to_json(_plan(), salts={})
    text = render_plan(data, "text")
    assert "  ↓ metrics-server: downgrade 1.3.68 → 1.3.60\n" in text
    assert "  ! nginx-ingress: repair 3.0.8\n" in text
    assert f"      reason: {REASON}\n" in text
    assert RED_DOWN.search(render_plan(data, "text", color=True))


def test_summary_line_counts_them_in_their_places() -> None:
    text = render_plan(plan_to_json(_plan(), salts={}), "text")
    assert text.splitlines()[-1] == (
        "Plan: 0 to install, 1 to upgrade, 1 to downgrade, 0 to update, 1 to repair, "
        "0 to delete, 0 to adopt across 1 cluster.")


def test_a_plan_without_them_reads_as_before() -> None:
    only_upgrade = plan(cluster("c", change("a", Action.UPGRADE, before_version="1",
                                            after_version="2")))
    data = plan_to_json(only_upgrade, salts={})
    assert "repair" not in data["summary"] and "downgrade" not in data["summary"]
    assert render_plan(data, "text").splitlines()[-1] == (
        "Plan: 0 to install, 1 to upgrade, 0 to update, 0 to delete, 0 to adopt across 1 cluster.")


def test_markdown_shows_the_symbols_and_the_reason() -> None:
    md = render_plan(plan_to_json(_plan(), salts={}), "markdown")
    assert "↓" in md and "downgrade" in md
    assert "repair" in md and "helm upgrade failed" in md


def test_json_counts_them_and_a_saved_plan_reads_back() -> None:
    data = plan_to_json(_plan(), salts={})
    assert data["summary"]["downgrade"] == 1 and data["summary"]["repair"] == 1
    back = plan_from_json(json.loads(dumps_plan_json(data)))
    actions = [c.action for c in back.clusters[0].changes]
    assert actions == [Action.DOWNGRADE, Action.REPAIR, Action.UPGRADE]
