"""The drift report's Markdown at fleet size: under GitHub's comment limit with
a note saying what was left out, and ``diff`` blocks GitHub can colour."""

from __future__ import annotations

import re

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.drift import AddonDrift, ClusterDrift, DriftKind, DriftReport
from reconciler.model.plan import FieldChange, FieldChangeKind
from reconciler.views.drift import render_drift
from reconciler.views.driftjson import drift_to_json

LIMIT = 65_000


def _addon(name: str, keys: int, cluster: int) -> AddonDrift:
    # Each cluster drifted differently (``cluster`` in the live value), so that
    # no two sections are alike and grouping can't shrink the report.
    changes = tuple(
        FieldChange(path=f"custom.stub_domains.zone{k}.example.internal",
                    kind=FieldChangeKind.CHANGED,
                    before=[f"10.0.{k}.1", f"10.0.{k}.2"], after=[f"10.{cluster}.{k}.1"])
        for k in range(keys)
    )
    return AddonDrift(addon=name, kinds=(DriftKind.VALUES,), declared=True, managed=True,
                      state_version="1.30.33", state_uid="u1", live_version="1.30.33",
                      live_uid="u1", status="running", value_changes=changes)


def _report(clusters: int, keys: int) -> DriftReport:
    return DriftReport(
        clusters=tuple(
            ClusterDrift(name=f"prod-{i:04d}", cluster_id=f"id-{i:04d}",
                         addons=(_addon("coredns", keys, i + 1), _addon("everest", keys, i + 1)))
            for i in range(clusters)
        ),
        generated_at="2026-11-27T12:00:00Z", tool_version="0.1.0")


def test_a_big_fleet_fits_under_the_limit_and_says_what_was_shortened() -> None:
    md = render_drift(drift_to_json(_report(250, 6)), "markdown")
    assert len(md) < LIMIT
    assert "The report is shortened to fit a comment:" in md
    assert "run `reconciler drift --format json` for the full report." in md
    # Every cluster is still in the table; sections are collapsed or dropped, not cut mid-fence.
    assert md.count("| ⚠️ drifted |") == 250
    assert md.count("```") % 2 == 0
    assert "details left out to fit the comment size limit" in md


def test_a_huge_fleet_leaves_table_rows_out_and_counts_them() -> None:
    md = render_drift(drift_to_json(_report(3000, 1)), "markdown")
    assert len(md) < LIMIT
    hidden = re.search(r"(\d+) table row\(s\) left out", md)
    assert hidden is not None
    assert md.count("| ⚠️ drifted |") + int(hidden.group(1)) == 3000


def test_a_small_report_is_whole_and_has_no_note() -> None:
    md = render_drift(drift_to_json(_report(3, 2)), "markdown")
    assert "shortened" not in md
    assert md.count("### prod-") == 3


def test_diff_blocks_use_minus_and_plus_lines_only() -> None:
    md = render_drift(drift_to_json(_report(1, 2)), "markdown")
    blocks = re.findall(r"```diff\n(.*?)\n *```", md, flags=re.S)
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            assert line.strip()[0] in "-+", line
    assert '- custom.stub_domains.zone1.example.internal: ["10.0.1.1", "10.0.1.2"]' in md
    assert '+ custom.stub_domains.zone1.example.internal: ["10.1.1.1"]' in md
    assert "~ " not in md


def test_clusters_drifted_alike_share_one_section_and_errors_keep_theirs() -> None:
    error = Diagnostic("", 0, 0, "", "CCE API timed out")
    alike = [ClusterDrift(name=f"prod-{i:04d}", cluster_id=f"id-{i}",
                          addons=(_addon("coredns", 1, 7),)) for i in range(1000)]
    broken = ClusterDrift(name="prod-broken", cluster_id="id-b",
                          addons=(_addon("coredns", 1, 7),), errors=(error,))
    report = DriftReport(clusters=(*alike, broken), generated_at="2026-11-27T12:00:00Z",
                         tool_version="0.1.0")
    md = render_drift(drift_to_json(report), "markdown")
    assert len(md) < LIMIT
    assert md.count('+ custom.stub_domains.zone0.example.internal: ["10.7.0.1"]') == 2
    assert ("### 1,000 clusters: prod-0000, prod-0001, prod-0002, prod-0003, prod-0004,"
            " … and 995 more\n") in md
    assert "### prod-broken" in md and "CCE API timed out" in md
    assert "details left out" not in md
