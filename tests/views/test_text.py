from __future__ import annotations

import re

import pytest

from reconciler.model.plan import Action, Plan
from reconciler.planfile.codec import plan_to_json
from reconciler.views import render_plan
from tests.builders.plans import SALTS, change, cluster, everything_plan, no_changes_plan, plan

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plan(*actions: Action, clusters: int = 1) -> Plan:
    changes = [
        change(f"a{n}", a, before_version="1", after_version="2") for n, a in enumerate(actions)
    ]
    return plan(*(cluster(f"c{i}", *changes, cluster_id=f"id{i}") for i in range(clusters)))


def _last_line(plan: Plan) -> str:
    return render_plan(plan_to_json(plan, salts={}), "text").splitlines()[-1]


def test_summary_line_counts_each_action_across_clusters() -> None:
    plan = _plan(Action.INSTALL, Action.UPGRADE, Action.NOOP, Action.DELETE, clusters=3)
    assert _last_line(plan) == (
        "Plan: 3 to install, 3 to upgrade, 0 to update, 3 to delete, 0 to adopt across 3 clusters."
    )
    assert _last_line(_plan(Action.ADOPT)) == (
        "Plan: 0 to install, 0 to upgrade, 0 to update, 0 to delete, 1 to adopt across 1 cluster."
    )


@pytest.mark.parametrize(
    ("clusters", "line"),
    [
        (2, "No changes. 2 clusters match the desired state."),
        (1, "No changes. 1 cluster matches the desired state."),
    ],
)
def test_no_changes_line(clusters: int, line: str) -> None:
    assert _last_line(_plan(Action.NOOP, clusters=clusters)) == line


def test_every_action_has_its_symbol_and_versions() -> None:
    text = render_plan(plan_to_json(everything_plan(), salts=SALTS), "text")
    assert "  + coredns: install 1.30.33\n" in text
    assert "  ↑ autoscaler: upgrade 1.29.17 → 1.30.1\n" in text
    assert "  ~ metrics-server: update 0.6.2\n" in text
    assert "  - npd: delete 1.18.10\n" in text
    assert "  ~ everest: update (adopting) 2.4.1\n" in text
    assert "  ↻ metrics-server: refresh 0.6.1 → 0.6.2\n" in text
    assert "1 to update (1 adopting)" not in text and "2 to update (1 adopting)" in text
    assert ", 1 to adopt, 1 to refresh (state only) across 3 clusters." in text
    assert "  ⇐ coredns: adopt 1.30.33 (values already match)\n" in text
    assert '      + custom.stub_domains.acme.local: ["10.0.0.53"]\n' in text
    assert "      - custom.old_flag: true\n" in text
    assert "      precheck AddonValidate (Fatal, Failed): blocking — " in text
    assert "      precheck K8sResourceModified (Warning, Failed): accepted — " in text
    assert "  unmanaged (left alone): gpu-beta, volcano\n" in text
    assert "    not supporting v1.31: autoscaler@1.30.1\n" in text
    assert "examples/prod.yaml:31:9: error: clusters.prod-us.addons.volcano.version: " in text
    assert text.endswith("\n1 error: nothing can be applied until fixed.\n")


def test_no_colour_unless_asked() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    plain = render_plan(data, "text")
    coloured = render_plan(data, "text", color=True)
    assert not ANSI.search(plain)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain


def test_provenance_only_on_request() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    assert "provenance:" not in render_plan(data, "text")
    shown = render_plan(data, "text", show_provenance=True)
    assert '        custom.cluster_id = "6b400e1c"  (derived)\n' in shown
    assert "        custom.password = (sensitive)  (desired)\n" in shown


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown plan format 'yaml'.*text, markdown, json"):
        render_plan(plan_to_json(no_changes_plan(), salts={}), "yaml")
