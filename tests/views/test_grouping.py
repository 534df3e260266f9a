"""Grouped diffs: identical changes across a fleet shown once, with the clusters named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.plan import Action, FieldChange, FieldChangeKind, PrecheckFinding
from reconciler.model.sensitive import SENSITIVE_PREFIX
from reconciler.views import render_plan
from tests.builders.plans import OLD_SECRET, SECRET, change, cluster, plan
from tests.views.fleet import bench_fleet, one_line_update, to_json

DIFF_MD = "- custom.maxNodesTotal: 30\n+ custom.maxNodesTotal: 50"
DIFF_TEXT = "~ custom.maxNodesTotal: 30 → 50"


def test_one_line_change_on_1000_clusters_fits_a_pr_comment_with_its_diff() -> None:
    data = to_json(bench_fleet(1000, one_line_update()))
    text = render_plan(data, "markdown")
    assert len(text) < 65_000
    assert DIFF_MD in text
    assert "**On 1,000 clusters:** `bench-00000`, `bench-00001`, `bench-00002`," in text
    assert "… and 995 more" in text
    assert "truncated" not in text and "omitted" not in text
    # Counts stay per cluster.
    assert text.startswith("### Plan: 0 to install, 0 to upgrade, 1000 to update,")


def test_one_line_change_on_1000_clusters_in_text_is_shown_once() -> None:
    text = render_plan(to_json(bench_fleet(1000, one_line_update())), "text")
    assert text.count(DIFF_TEXT) == 1
    assert ("On 1,000 clusters: bench-00000, bench-00001, bench-00002, bench-00003,"
            " bench-00004, … and 995 more\n  ~ autoscaler: update 1.30.15\n") in text
    assert len(text.splitlines()) < 10


def test_json_keeps_every_change() -> None:
    data = to_json(bench_fleet(50, one_line_update()))
    rendered = json.loads(render_plan(data, "json"))
    assert [len(c["changes"]) for c in rendered["clusters"]] == [1] * 50


def test_few_clusters_are_all_named_and_keep_their_own_lines() -> None:
    shared = one_line_update()
    own = change("coredns", Action.INSTALL, after_version="1.30.33", reason="declared")
    p = plan(
        cluster("a", shared, own, cluster_id="id-a"),
        cluster("b", shared, cluster_id="id-b"),
        cluster("c", shared, cluster_id="id-c"),
        cluster("d", cluster_id="id-d"),
    )
    text = render_plan(to_json(p), "text")
    assert text == (
        "On 3 clusters: a, b, c\n"
        "  ~ autoscaler: update 1.30.15\n"
        "      reason: values differ from live\n"
        "      ~ custom.maxNodesTotal: 30 → 50\n"
        "\n"
        "a (id-a, r)\n"
        "  + coredns: install 1.30.33\n"
        "      reason: declared\n"
        "  also the shared changes above: autoscaler\n"
        "\n"
        "b (id-b, r): only the shared changes above (autoscaler)\n"
        "\n"
        "c (id-c, r): only the shared changes above (autoscaler)\n"
        "\n"
        "d (id-d, r): no changes (0 add-ons up to date)\n"
        "\n"
        "Plan: 1 to install, 0 to upgrade, 3 to update, 0 to delete, 0 to adopt"
        " across 4 clusters.\n"
    )
    md = render_plan(to_json(p), "markdown")
    assert "**On 3 clusters:** `a`, `b`, `c`" in md
    assert md.count(DIFF_MD) == 1
    assert "Also the shared changes above: `autoscaler`" in md
    assert "<details><summary>2 clusters with only the shared changes above</summary>" in md
    assert "<details><summary>1 cluster without changes</summary>" in md


def _variant(**overrides: Any) -> Any:
    fc: dict[str, Any] = {"path": "custom.maxNodesTotal", "kind": FieldChangeKind.CHANGED,
                          "before": 30, "after": 50, "sensitive": False}
    fc.update(overrides.pop("field", {}))
    fields: dict[str, Any] = {
        "instance_id": "uid-autoscaler", "before_version": "1.30.15",
        "after_version": "1.30.15", "reason": "values differ from live",
    }
    fields.update(overrides)
    path = fc.pop("path")
    kind = fc.pop("kind")
    action = fields.pop("action", Action.UPDATE)
    addon = fields.pop("addon", "autoscaler")
    return change(addon, action, FieldChange(path, kind, **fc), **fields)


@pytest.mark.parametrize(
    "different",
    [
        {"field": {"after": 51}},
        {"field": {"before": 31}},
        {"field": {"path": "custom.maxNodes"}},
        {"field": {"kind": FieldChangeKind.ADDED, "before": None}},
        {"field": {"after": "50"}},  # a string is not the number
        {"after_version": "1.30.16", "action": Action.UPGRADE},
        {"before_version": "1.30.14", "action": Action.UPGRADE},
        {"version_constraint": "latest"},
        {"addon": "autoscaler-2"},
        {"action": Action.REPAIR},
        {"adopting": True},
    ],
)
def test_changes_differing_in_any_value_stay_separate_groups(different: dict[str, Any]) -> None:
    same = _variant()
    other = _variant(**different)
    p = plan(cluster("a", same, cluster_id="1"), cluster("b", same, cluster_id="2"),
             cluster("c", other, cluster_id="3"), cluster("d", other, cluster_id="4"))
    text = render_plan(to_json(p), "text")
    assert "On 2 clusters: a, b\n" in text and "On 2 clusters: c, d\n" in text


def test_cluster_names_and_ids_do_not_keep_changes_apart() -> None:
    p = plan(cluster("a", _variant(instance_id="u1"), cluster_id="1", region="eu"),
             cluster("b", _variant(instance_id="u2"), cluster_id="2", region="us"))
    assert "On 2 clusters: a, b\n" in render_plan(to_json(p), "text")


def test_errors_are_never_grouped_away() -> None:
    error = Diagnostic("fleet.yaml", 7, 3, "clusters.bench-00003.addons", "boom on this one")
    fleet = bench_fleet(30, one_line_update())
    clusters = list(fleet.clusters)
    for i in (3, 17):
        clusters[i] = cluster(clusters[i].name, one_line_update(), cluster_id=f"cid-{i}",
                              errors=(error,))
    p = plan(*clusters)
    text = render_plan(to_json(p), "text")
    assert "On 30 clusters: bench-00000" in text
    for name in ("bench-00003", "bench-00017"):
        section = text.split(f"\n{name} (")[1].split("\n\n")[0]
        assert "also the shared changes above: autoscaler" in section
        assert "fleet.yaml:7:3: error: clusters.bench-00003.addons: boom on this one" in section
    md = render_plan(to_json(p), "markdown")
    assert "<details><summary>bench-00003 — 1 change, 1 error</summary>" in md
    assert "<details><summary>bench-00017 — 1 change, 1 error</summary>" in md
    assert "<details><summary>28 clusters with only the shared changes above</summary>" in md


def test_many_clusters_without_changes_are_summarised_in_text() -> None:
    fleet = bench_fleet(40)  # no changes at all
    text = render_plan(to_json(fleet), "text")
    assert text.startswith(
        "40 clusters without changes: bench-00000, bench-00001, bench-00002, bench-00003,"
        " bench-00004, … and 35 more\n"
    )
    assert text.endswith("No changes. 40 clusters match the desired state.\n")


def test_many_clusters_left_alone_add_ons_are_grouped_in_text() -> None:
    clusters = [cluster(f"c{i:02d}", one_line_update(), cluster_id=str(i),
                        unmanaged=("volcano",) if i % 2 else ("everest",))
                for i in range(30)]
    text = render_plan(to_json(plan(*clusters)), "text")
    assert ("unmanaged (left alone): volcano — on 15 clusters: c01, c03, c05, c07, c09,"
            " … and 10 more") in text
    assert "unmanaged (left alone): everest — on 15 clusters: c00, c02" in text


def test_deletions_and_risks_in_the_markdown_header_are_grouped() -> None:
    delete = change("npd", Action.DELETE, before_version="1.18.10", reason="state: absent")

    def upgrade(task: str) -> Any:
        finding = PrecheckFinding(addon="coredns", risk="ApiCompat", level="Warning",
                                  status="Failed", message="old API", accepted=True, task_id=task)
        return change("coredns", Action.UPGRADE, before_version="1.29.4",
                      after_version="1.30.33", findings=(finding,))

    p = plan(*(cluster(f"c{i}", delete, upgrade(f"t{i}"), cluster_id=str(i)) for i in range(3)),
             *(cluster(f"d{i:02d}", delete, upgrade(f"u{i}"), cluster_id=f"d{i}")
               for i in range(12)))
    md = render_plan(to_json(p), "markdown")
    header = md.split("**On 15 clusters:**")[0]
    assert header.count("\n- **") == 1
    assert (
        "- **15 clusters: c0, c1, c2, d00, d01, … and 10 more**: `npd` `1.18.10` — state: absent"
    ) in header
    assert header.count("| ApiCompat |") == 1
    assert ("| 15 clusters: c0, c1, c2, d00, d01, … and 10 more | coredns | ApiCompat | Warning"
            " | Failed | ⚠️ accepted | old API |") in header
    # The finding's task id differs per cluster; the change is still one group.
    assert md.count("precheck `ApiCompat`") == 1


def _secret_change() -> Any:
    return change(
        "autoscaler",
        Action.UPDATE,
        FieldChange("custom.password", FieldChangeKind.CHANGED, before=OLD_SECRET, after=SECRET,
                    sensitive=True),
        instance_id="u",
        before_version="1.30.15",
        after_version="1.30.15",
        values={"custom": {"password": SECRET}},
        provenance={"custom.password": "desired"},
        sensitive_paths=frozenset({"custom.password"}),
        secret_sources={"custom.password": ("TOKEN",)},
        reason="values differ from live",
    )


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("show_provenance", [False, True])
def test_secrets_stay_redacted_in_groups(fmt: str, show_provenance: bool) -> None:
    # Salts differ per cluster, so the hashes differ: grouped all the same, revealing nothing.
    p = plan(*(cluster(f"c{i}", _secret_change(), cluster_id=str(i)) for i in range(12)))
    data = to_json(p, salts={f"c{i}": f"salt-{i}" for i in range(12)})
    hashes = {c["changes"][0]["values"]["custom"]["password"] for c in data["clusters"]}
    assert len(hashes) == 12
    out = render_plan(data, fmt, show_provenance=show_provenance)
    assert SECRET not in out and OLD_SECRET not in out and SENSITIVE_PREFIX not in out
    assert "12 clusters:" in out
    single = render_plan(to_json(plan(cluster("c0", _secret_change())), salts={"c0": "s"}),
                         fmt, show_provenance=show_provenance)
    assert out.count("custom.password") == single.count("custom.password") > 0


def _coredns_values_update(version: str, after: Any = 3) -> Any:
    return change(
        "coredns", Action.UPDATE,
        FieldChange("custom.replicas", FieldChangeKind.CHANGED, before=2, after=after),
        before_version=version, after_version=version, reason="values differ from live")


def test_a_values_change_on_clusters_running_different_versions_is_shown_once() -> None:
    """Three Kubernetes minors, three coredns versions, one identical values diff."""
    p = plan(
        cluster("k28", _coredns_values_update("1.28.7"), cluster_id="id-28"),
        cluster("k29", _coredns_values_update("1.29.4"), cluster_id="id-29"),
        cluster("k30", _coredns_values_update("1.30.33"), cluster_id="id-30"),
        cluster("k30b", _coredns_values_update("1.30.33"), cluster_id="id-30b"),
        cluster("odd", _coredns_values_update("1.30.33", after=5), cluster_id="id-odd"),
    )
    text = render_plan(to_json(p), "text")
    assert text.count("~ custom.replicas: 2 → 3") == 1
    assert ("On 4 clusters: k28, k29, k30, k30b\n"
            "  running coredns 1.28.7 on k28; 1.29.4 on k29; 1.30.33 on k30, k30b\n"
            "  ~ coredns: update\n"
            "      reason: values differ from live\n"
            "      ~ custom.replicas: 2 → 3\n") in text
    # A different diff stays with its cluster, version and all.
    assert "odd (id-odd, r)\n  ~ coredns: update 1.30.33\n" in text
    md = render_plan(to_json(p), "markdown")
    assert md.count("+ custom.replicas: 3") == 1
    assert ("**On 4 clusters:** `k28`, `k29`, `k30`, `k30b`\n\n"
            "Running `coredns` `1.28.7` on `k28`; `1.29.4` on `k29`; `1.30.33` on `k30`, `k30b`"
            "\n\n**~ coredns** — update: values differ from live") in md
    # JSON keeps every cluster's change with its own version.
    rendered = json.loads(render_plan(to_json(p), "json"))
    assert [c["changes"][0]["after_version"] for c in rendered["clusters"]] == [
        "1.28.7", "1.29.4", "1.30.33", "1.30.33", "1.30.33"]


def test_version_changes_still_group_only_when_their_versions_match() -> None:
    def upgrade(before: str) -> Any:
        return change("coredns", Action.UPGRADE, before_version=before,
                      after_version="1.30.33", reason="newer")
    p = plan(cluster("a", upgrade("1.28.7")), cluster("b", upgrade("1.29.4")),
             cluster("c", upgrade("1.29.4")))
    text = render_plan(to_json(p), "text")
    assert "On 2 clusters: b, c\n  ↑ coredns: upgrade 1.29.4 → 1.30.33\n" in text
    assert "running" not in text
    assert "a (id, r)\n  ↑ coredns: upgrade 1.28.7 → 1.30.33\n" in text
