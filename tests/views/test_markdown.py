from __future__ import annotations

import re

from reconciler.model.plan import Action, FieldChange, FieldChangeKind
from reconciler.planfile.codec import plan_to_json
from reconciler.views import render_plan
from tests.builders.plans import (
    SALTS,
    change,
    cluster,
    everything_plan,
    large_plan,
    no_changes_plan,
    plan,
)

NOTE = "run `reconciler show PLAN` for the full plan."


def test_byte_identical_across_renders_and_plan_builds() -> None:
    first = render_plan(plan_to_json(everything_plan(), salts=SALTS), "markdown")
    second = render_plan(plan_to_json(everything_plan(), salts=SALTS), "markdown")
    assert first.encode() == second.encode()
    assert "plan-0001" not in first  # no plan id (nor anything run-specific) in the body


def test_summary_first_then_deletions_risks_and_clusters() -> None:
    text = render_plan(plan_to_json(everything_plan(), salts=SALTS), "markdown")
    assert text.startswith(
        "### Plan: 1 to install, 1 to upgrade, 2 to update (1 adopting), 1 to delete,"
        " 1 to adopt, 1 to refresh (state only) across 3 clusters."
    )
    assert "**⇐ coredns** — adopt" in text and "**~ everest** — update (adopting)" in text
    assert "**↻ metrics-server** — refresh `0.6.1 → 0.6.2`" in text
    order = [
        text.index("#### ⚠️ Deletions"),
        text.index("#### Precheck risks"),
        text.index("<details><summary>prod-eu — 4 changes</summary>"),
        text.index("<details><summary>prod-us — 3 changes, 1 error</summary>"),
        text.index("<details><summary>1 cluster without changes</summary>"),
    ]
    assert order == sorted(order)
    assert "- **prod-eu**: `npd` `1.18.10` — state: absent" in text
    assert (
        "```diff\n- custom.replicas: 1\n+ custom.replicas: 2\n- custom.old_flag: true\n```" in text
    )
    assert text.count("<details>") == text.count("</details>") == 3


def test_no_deletion_section_without_deletions() -> None:
    text = render_plan(plan_to_json(no_changes_plan(), salts={}), "markdown")
    assert text.startswith("### No changes. 2 clusters match the desired state.")
    assert "Deletions" not in text


def test_user_text_is_escaped_for_its_context() -> None:
    delete = change("x", Action.DELETE, before_version="1", reason="*boom* <b>|")
    user_text = plan(cluster("<script>", delete), plan_id="i", tool_version="v")
    text = render_plan(plan_to_json(user_text, salts={}), "markdown")
    assert "<details><summary>&lt;script&gt; — 1 change</summary>" in text
    assert r"\*boom\* \<b\>\|" in text
    assert "<script>" not in text and "<b>" not in text


def test_backticks_in_values_cannot_close_the_code_block() -> None:
    update = change("x", Action.UPDATE, FieldChange("```evil", FieldChangeKind.ADDED, after="````"))
    backticks = plan(cluster("c", update), plan_id="i", tool_version="v")
    text = render_plan(plan_to_json(backticks, salts={}), "markdown")
    assert '`````diff\n+ ```evil: "````"\n`````' in text


def test_huge_plan_stays_under_the_limit_and_says_what_was_truncated() -> None:
    data = plan_to_json(large_plan(60, 8, 12), salts={})
    full = render_plan(data, "markdown", max_chars=10**9)
    assert len(full) > 200_000
    text = render_plan(data, "markdown")
    assert len(text) <= 65_000
    match = re.search(r"> ℹ️ (\d+) sections were truncated; " + re.escape(NOTE), text)
    assert match and int(match.group(1)) > 0
    # The largest sections (the last clusters here) are the ones collapsed first.
    assert (
        "cluster-0000 — 8 changes</summary>\n\ncluster cid-0, ap-southeast-1\n\n**↑ addon-00**"
        in text
    )
    assert (
        "cluster-0059 — 8 changes</summary>\n\ncluster cid-59, ap-southeast-1\n\n✂️ Details of 8"
        in text
    )
    assert text == render_plan(data, "markdown")


def test_tiny_limit_omits_sections_and_still_fits() -> None:
    data = plan_to_json(large_plan(40, 2, 2), salts={})
    text = render_plan(data, "markdown", max_chars=3000)
    assert len(text) <= 3000
    assert re.search(r"sections were omitted; " + re.escape(NOTE), text)
    assert text.rstrip().endswith("more sections omitted.")
