"""Inputs that change nothing are said (warnings; the run goes on): an unused
--var or var-file key, a profile applying to no cluster, a wave selector
matching none (config/unused.py), through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

FLEET = """\
apiVersion: reconciler/v1
vars:
  ns: 10.0.0.2
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
  endpoint: emulator://demo
profiles:
  dns:
    clusters: ['env=prod']
    addons:
      coredns:
        values: {custom: {upstream_nameservers: ["{{ vars.ns }}", "{{ vars['backup'] }}"]}}
  gold:
    clusters: ['tier=gold']
    addons:
      everest: {version: 2.4.28}
rollout:
  waves:
    - {name: canary, clusters: ['env=staging', 'demo-stag*']}
    - {name: prod, clusters: ['env=prod', 'region=mars']}
    - {name: rest}
clusters:
  demo-prod:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    labels: {env: prod}
    addons:
      coredns: {version: 1.30.33}
"""


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(FLEET)
    (tmp_path / "prod.vars.yaml").write_text("backup: 10.0.0.3\nbakup: 10.0.0.4\n")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})


def test_every_unused_input_is_a_warning_where_it_was_written() -> None:
    result = run("validate", "fleet.yaml", "--var-file", "prod.vars.yaml", "--var", "nss=1")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings == [
        "prod.vars.yaml: warning: variable `bakup` is used by no file (did you mean "
        "backup? The files read: backup, ns)",
        "--var: warning: variable `nss` is used by no file (did you mean ns? The files "
        "read: backup, ns)",
        "fleet.yaml:14:3: warning: profiles.gold: profile `gold` applies to no cluster (its "
        "`clusters:` matches none and no cluster lists it in `profiles:`)",
        "fleet.yaml:20:33: warning: rollout.waves[0].clusters[0]: wave `canary`: selector "
        "`env=staging` matches no cluster (check the labels of the clusters, or drop it)",
        "fleet.yaml:20:48: warning: rollout.waves[0].clusters[1]: wave `canary`: pattern "
        "`demo-stag*` matches no cluster (check the labels of the clusters, or drop it)",
        "fleet.yaml:21:43: warning: rollout.waves[1].clusters[1]: wave `prod`: selector "
        "`region=mars` matches no cluster (check the labels of the clusters, or drop it)",
    ]


def test_plan_says_them_too_and_still_plans() -> None:
    result = run("plan", "fleet.yaml", "--var-file", "prod.vars.yaml")
    assert result.exit_code == 0, result.output
    assert "variable `bakup` is used by no file" in result.stderr
    assert "profile `gold` applies to no cluster" in result.stderr


def test_a_file_reading_vars_as_a_whole_may_use_any_variable(tmp_path: Path) -> None:
    (tmp_path / "whole.yaml").write_text(FLEET.replace(
        "  ns: 10.0.0.2\n", "  ns: 10.0.0.2\n  all: \"{{ vars | length }}\"\n"))
    result = run("validate", "whole.yaml", "--var-file", "prod.vars.yaml", "--var", "nss=1")
    assert result.exit_code == 0, result.output
    assert "used by no file" not in result.stderr


@pytest.mark.parametrize(("files", "env"), [
    (["demo.yaml"], {}),
    (["fleet.yaml"], {}),
    (["multi-env/fleet.yaml", "--var-file", "multi-env/prod.vars.yaml"],
     {"AUTOSCALER_TOKEN": "t", "RECONCILER_ALLOW_ENV": "AUTOSCALER_TOKEN"}),
    (["multi-env/fleet.yaml", "--var-file", "multi-env/staging.vars.yaml"],
     {"AUTOSCALER_TOKEN": "t", "RECONCILER_ALLOW_ENV": "AUTOSCALER_TOKEN"}),
])
def test_the_examples_use_every_input(files: list[str], env: dict[str, str]) -> None:
    args = [a if a.startswith("--") else str(EXAMPLES / a) for a in files]
    result = CliRunner().invoke(cli, ["validate", *args], env={"NO_COLOR": "1", **env})
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
