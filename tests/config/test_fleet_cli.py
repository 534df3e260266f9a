"""Fleet files through the real CLI against the in-process demo emulator: --cluster
selectors, provenance naming the profile, a saved plan of profile values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

FLEET = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
  endpoint: emulator://demo
profiles:
  base:
    addons:
      everest:
        version: 2.4.28
  scaled:
    addons:
      coredns:
        version: 1.30.33
        flavor: "5000"
      autoscaler:
        version: 1.29.17
        allow_unknown_values: [custom.adminPassword, custom.apiToken]
        values:
          custom:
            maxNodesTotal: 60
            scaleDownEnabled: true
            adminPassword: literal-from-profile
            apiToken: "{{ secret('AS_TOKEN') }}"
clusters:
  demo-prod:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    labels: {env: prod, tier: gold}
    profiles: [base, scaled]
    addons:
      autoscaler:
        values:
          custom:
            maxNodesTotal: 80
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    labels: {env: staging, tier: silver}
    profiles: [base]
  demo-legacy:
    cluster_id: 8d2e6b3f-4368-11f0-ba56-0255ac100037
    labels: {env: legacy, tier: bronze}
    profiles: [base]
"""
TOKEN = "tok-3f9a-s3cr3t"


def run(tmp_path: Path, *args: str) -> Result:
    file = tmp_path / "fleet.yaml"
    file.write_text(FLEET)
    return CliRunner().invoke(
        cli, [args[0], str(file), *args[1:], "--state-dir", str(tmp_path / "state")],
        env={"NO_COLOR": "1", "AS_TOKEN": TOKEN, "RECONCILER_ALLOW_ENV": "AS_TOKEN"})


def planned(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize(("selector", "clusters"), [
    ("env=prod", ["demo-prod"]),
    ("tier in (gold,silver)", ["demo-prod", "demo-staging"]),
    ("env!=prod,tier notin (silver)", ["demo-legacy"]),
])
def test_plan_cluster_takes_a_selector(tmp_path: Path, selector: str,
                                       clusters: list[str]) -> None:
    data = planned(run(tmp_path, "plan", "--cluster", selector, "--format", "json"))
    assert [c["name"] for c in data["clusters"]] == clusters


def test_plan_cluster_with_a_bad_or_unmatched_selector_exits_1(tmp_path: Path) -> None:
    bad = run(tmp_path, "plan", "--cluster", "tier in (gold")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "invalid --cluster: selector 'tier in (gold': `(` without `)`" in bad.stderr
    unmatched = run(tmp_path, "plan", "--cluster", "env=dev")
    assert unmatched.exit_code == 1
    assert ("--cluster selector `env=dev` matches no cluster (labels in these files: "
            "env=legacy, env=prod, env=staging, tier=bronze, tier=gold, tier=silver)"
            in unmatched.stderr)
    assert not (tmp_path / "state").exists()


def test_provenance_names_the_profile_a_value_came_from(tmp_path: Path) -> None:
    data = planned(run(tmp_path, "plan", "--cluster", "demo-prod", "--format", "json"))
    autoscaler = next(ch for ch in data["clusters"][0]["changes"] if ch["addon"] == "autoscaler")
    provenance = autoscaler["provenance"]
    assert provenance["custom.maxNodesTotal"] == "desired"   # the cluster's own, last
    assert provenance["custom.scaleDownEnabled"] == "profile:scaled"
    assert provenance["custom.apiToken"] == "profile:scaled"
    assert provenance["custom.coresTotal"] == "live"
    coredns = next(ch for ch in data["clusters"][0]["changes"] if ch["addon"] == "coredns")
    # the preset a profile's `flavor:` chose is that profile's doing
    assert coredns["provenance"]["flavor.replicas"] == "profile:scaled"

    text = run(tmp_path, "plan", "--cluster", "demo-prod", "--show-provenance")
    assert text.exit_code == 0, text.output
    assert "custom.scaleDownEnabled = true  (profile:scaled)" in text.stdout
    assert "custom.maxNodesTotal = 80  (desired)" in text.stdout
    assert TOKEN not in text.output
    markdown = run(tmp_path, "plan", "--cluster", "demo-prod", "--show-provenance",
                   "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert "profile:scaled" in markdown.stdout and TOKEN not in markdown.output


def test_a_saved_plan_keeps_a_profiles_literal_as_the_files_hold_it(tmp_path: Path) -> None:
    # A sensitive literal written in a profile is the files' own text, like one written
    # in the cluster: the saved plan carries it as planned (hashing it would make apply
    # look for it in live) and a secret() leaf stays hashed.
    out = tmp_path / "fleet.plan.json"
    result = run(tmp_path, "plan", "--cluster", "demo-prod", "--out", str(out))
    assert result.exit_code == 0, result.output
    saved = out.read_text()
    assert "literal-from-profile" in saved
    assert TOKEN not in saved
    shown = CliRunner().invoke(cli, ["show", str(out), "--show-provenance"],
                               env={"NO_COLOR": "1"})
    assert shown.exit_code == 0, shown.output
    assert "custom.adminPassword = (sensitive)  (profile:scaled)" in shown.stdout
    assert "literal-from-profile" not in shown.output and TOKEN not in shown.output
