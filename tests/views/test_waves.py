"""Plans of a rollout: the waves summarised first, clusters in wave order, constraints shown."""

from __future__ import annotations

from typing import Any

from reconciler.model.plan import Action, Plan
from reconciler.views import render_plan
from tests.builders.plans import change, cluster, plan
from tests.views.fleet import ROLLOUT, one_line_update, to_json


def _rollout_plan() -> Plan:
    latest = change("coredns", Action.UPGRADE, before_version="1.29.4", after_version="1.30.33",
                    version_constraint="latest", reason="version 1.29.4 → 1.30.33")
    tilde = change("autoscaler", Action.INSTALL, after_version="1.30.15",
                   version_constraint="~1.30", reason="declared and not installed")
    # In file order, not wave order: the views reorder by wave.
    return plan(
        cluster("demo-prod", one_line_update(), latest, cluster_id="id-p", wave="prod",
                labels={"env": "prod"}, kubernetes_version="v1.29"),
        cluster("demo-staging", one_line_update(), tilde, cluster_id="id-s", wave="canary",
                kubernetes_version="v1.30"),
        cluster("demo-legacy", cluster_id="id-l", wave="rest"),
        cluster("prod-2", one_line_update(), latest, cluster_id="id-2", wave="prod",
                labels={"env": "prod"}),
        rollout=ROLLOUT,
    )


def test_text_summarises_the_rollout_and_groups_within_each_wave() -> None:
    assert render_plan(to_json(_rollout_plan()), "text") == (
        "Rollout in 3 waves, pause: manual (apply stops after each wave that passes its gate)\n"
        "  1. canary: 1 cluster; soak 10m; max_parallel as --parallelism; max_failures 0\n"
        "  2. prod: 2 clusters; soak none; max_parallel 5; max_failures 1\n"
        "  3. rest: 1 cluster; soak none; max_parallel as --parallelism; max_failures 0\n"
        "\n"
        "Wave canary: 1 cluster\n"
        "\n"
        "demo-staging (id-s, Kubernetes v1.30, r)\n"
        "  ~ autoscaler: update 1.30.15\n"
        "      reason: values differ from live\n"
        "      ~ custom.maxNodesTotal: 30 → 50\n"
        "  + autoscaler: install 1.30.15 (from ~1.30)\n"
        "      reason: declared and not installed\n"
        "\n"
        "Wave prod: 2 clusters\n"
        "\n"
        "On 2 clusters: demo-prod, prod-2\n"
        "  ~ autoscaler: update 1.30.15\n"
        "      reason: values differ from live\n"
        "      ~ custom.maxNodesTotal: 30 → 50\n"
        "  ↑ coredns: upgrade 1.29.4 → 1.30.33 (from latest)\n"
        "      reason: version 1.29.4 → 1.30.33\n"
        "\n"
        "demo-prod (id-p, Kubernetes v1.29, r):"
        " only the shared changes above (autoscaler, coredns)\n"
        "\n"
        "prod-2 (id-2, r): only the shared changes above (autoscaler, coredns)\n"
        "\n"
        "Wave rest: 1 cluster\n"
        "\n"
        "demo-legacy (id-l, r): no changes (0 add-ons up to date)\n"
        "\n"
        "Plan: 1 to install, 2 to upgrade, 3 to update, 0 to delete, 0 to adopt"
        " across 4 clusters.\n"
    )


def test_markdown_has_the_rollout_table_and_a_heading_per_wave_in_order() -> None:
    md = render_plan(to_json(_rollout_plan()), "markdown")
    assert (
        "**Rollout** in 3 waves, pause: `manual` (apply stops after each wave that passes its"
        " gate)\n\n"
        "| # | Wave | Clusters | Soak | Max parallel | Max failures |\n"
        "|---|---|---|---|---|---|\n"
        "| 1 | `canary` | 1 | 10m | as --parallelism | 0 |\n"
        "| 2 | `prod` | 2 | none | 5 | 1 |\n"
        "| 3 | `rest` | 1 | none | as --parallelism | 0 |\n"
    ) in md
    order = [
        md.index("#### Wave `canary` — 1 cluster"),
        md.index("<details><summary>demo-staging — 2 changes</summary>"),
        md.index("#### Wave `prod` — 2 clusters"),
        md.index("**On 2 clusters:** `demo-prod`, `prod-2`"),
        md.index("#### Wave `rest` — 1 cluster"),
        md.index("<details><summary>1 cluster without changes</summary>"),
    ]
    assert order == sorted(order)
    assert "**+ autoscaler** — install `1.30.15` (from `~1.30`)" in md
    assert "**↑ coredns** — upgrade `1.29.4 → 1.30.33` (from `latest`)" in md
    # The same change in two waves is shown in each: waves stay separate.
    assert md.count("+ custom.maxNodesTotal: 50") == 2


def test_clusters_in_no_wave_come_last() -> None:
    p = plan(cluster("stray", one_line_update(), cluster_id="x", wave="gone"),
             cluster("demo-staging", one_line_update(), cluster_id="s", wave="canary"),
             rollout=ROLLOUT)
    text = render_plan(to_json(p), "text")
    assert text.index("Wave canary: 1 cluster") < text.index("In no wave: 1 cluster")
    assert "  2. prod: 0 clusters;" in text
    assert "Wave prod" not in text
    assert "#### In no wave — 1 cluster" in render_plan(to_json(p), "markdown")


def _without_fleet_fields(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("rollout", None)
    for c in data["clusters"]:
        c.pop("wave", None)
        c.pop("labels", None)
        for ch in c["changes"]:
            ch.pop("version_constraint", None)
    return data


def test_plan_json_from_before_waves_still_renders() -> None:
    data = _without_fleet_fields(to_json(_rollout_plan()))
    for fmt in ("text", "markdown"):
        out = render_plan(data, fmt)
        assert "Wave" not in out and "Rollout" not in out and "(from" not in out
        assert "2 clusters" in out  # grouping needs none of the new fields


def test_no_rollout_means_no_wave_headings() -> None:
    p = plan(cluster("a", one_line_update(), cluster_id="1", wave=""),
             cluster("b", one_line_update(), cluster_id="2"))
    data = to_json(p)
    assert data["rollout"] is None
    for fmt in ("text", "markdown"):
        out = render_plan(data, fmt)
        assert "Wave" not in out and "Rollout" not in out
