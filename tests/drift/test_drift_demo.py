"""The issue's "done when", against the packaged ``emulator://demo`` exactly
as a user runs it: after an apply, an add-on edited out of band makes
``drift`` exit 2 and name the changed keys in every format; ``--inspect``
reports the running-add-on inspection's risks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli import cli
from reconciler.cli.inprocess import EmulatorServices
from reconciler.cloud import CceClient, CloudSession

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

T = TypeVar("T")

PROD_ID = "6b400e1c-4368-11f0-ba56-0255ac100037"
DESIRED = f"""apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-prod:
    cluster_id: {PROD_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      metrics-server: {{}}
      autoscaler: {{}}
      npd: {{}}
"""


def run(tmp: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--state-dir", str(tmp / "state")],
                              env={"NO_COLOR": "1"}, catch_exceptions=False)


def console(tmp: Path, call: Callable[[CceClient], Awaitable[T]]) -> T:
    """A console user's request to the same emulator (its state persists under tmp)."""
    async def go() -> T:
        async with CloudSession(in_process=EmulatorServices(tmp)) as session:
            return await call(session.client("emulator://demo", "ap-southeast-1", ""))
    return asyncio.run(go())


def applied_demo(tmp: Path) -> Path:
    path = tmp / "demo.yaml"
    path.write_text(DESIRED, encoding="utf-8")
    done = run(tmp, "apply", str(path), "--auto-approve")
    assert done.exit_code == 0, done.output
    clean = run(tmp, "drift", str(path))
    assert clean.exit_code == 0, clean.output
    return path


def test_done_when_edit_out_of_band_names_the_keys_in_every_format(tmp_path: Path) -> None:
    path = applied_demo(tmp_path)
    autoscaler = next(i for i in console(tmp_path, lambda c: c.list_instances(PROD_ID))
                      if i.template_name == "autoscaler")
    values = json.loads(json.dumps(autoscaler.values))
    values["custom"]["maxNodesTotal"] = 75
    console(tmp_path, lambda c: c.update(autoscaler.uid, PROD_ID, "autoscaler",
                                         autoscaler.version, values, upgrade=False))
    deadline = time.monotonic() + 20
    while console(tmp_path, lambda c: c.get_instance(autoscaler.uid, PROD_ID)).status.status \
            != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    outputs = {fmt: run(tmp_path, "drift", str(path), "--format", fmt)
               for fmt in ("text", "markdown", "json", "prometheus")}
    assert {fmt: r.exit_code for fmt, r in outputs.items()} == dict.fromkeys(outputs, 2)
    assert "custom.maxNodesTotal: 50 → 75" in outputs["text"].stdout
    # GitHub's diff highlighting colours only -/+ lines.
    assert ("  - custom.maxNodesTotal: 50\n  + custom.maxNodesTotal: 75\n"
            in outputs["markdown"].stdout)
    data = json.loads(outputs["json"].stdout)
    changes = data["clusters"][0]["addons"][3]["changed_outside"]["values"]
    assert changes == [{"path": "custom.maxNodesTotal", "kind": "changed", "sensitive": False,
                        "before": 50, "after": 75}]
    drifting = {
        (s.labels["addon"], s.labels["kind"])
        for family in text_string_to_metric_families(outputs["prometheus"].stdout)
        for s in family.samples
        if s.name == "reconciler_addon_drift" and s.value == 1
    }
    assert drifting == {("autoscaler", "values")}


def test_inspect_reports_the_running_addon_risks(tmp_path: Path) -> None:
    path = applied_demo(tmp_path)

    result = run(tmp_path, "drift", str(path), "--inspect", "--format", "json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["inspected"] is True
    risky = {a["addon"]: a for a in data["clusters"][0]["addons"] if a["risks"]}
    # demo-prod's edited Corefile: the scenario's K8sResourceModified rule
    # applies to every check type; AddonValidate only to upgrades.
    assert list(risky) == ["coredns"]
    assert risky["coredns"]["kinds"] == ["risk"]
    assert [(r["name"], r["level"]) for r in risky["coredns"]["risks"]] == [
        ("K8sResourceModified", "Warning")]

    prom = run(tmp_path, "drift", str(path), "--inspect", "--format", "prometheus").stdout
    risks = [s for f in text_string_to_metric_families(prom) for s in f.samples
             if s.name == "reconciler_addon_risk"]
    assert [(s.labels["addon"], s.labels["risk"], s.labels["level"], s.value) for s in risks] == [
        ("coredns", "K8sResourceModified", "Warning", 1.0)]
    text = run(tmp_path, "drift", str(path), "--inspect").stdout
    assert "coredns: inspection risk" in text
    assert "K8sResourceModified (Warning): resource configmap/coredns" in text
