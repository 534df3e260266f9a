"""Bad input exits 1 in every command: never 2, which plan --detailed-exitcode
and drift use to say "there are changes" / "there is drift"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "demo.yaml")

CASES = {
    "missing file": (["nope.yaml"], "nope.yaml"),
    "missing var file": ([DEMO, "--var-file", "nope.vars.yaml"], "nope.vars.yaml"),
    "malformed --var": ([DEMO, "--var", "no-equals-sign"], "--var"),
}


@pytest.mark.parametrize("command", ["plan", "drift", "apply", "validate"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_1_and_says_what(
    command: str, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args, named = CASES[case]
    extra = ["--detailed-exitcode"] if command == "plan" else []
    result = CliRunner().invoke(cli, [command, *args, *extra])
    assert result.exit_code == 1, result.output
    assert named in result.stderr
    assert "nothing was sent to the cloud" in result.stderr
    assert not (tmp_path / ".reconciler").exists()


def test_a_malformed_accept_risk_exits_1_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["plan", DEMO, "--precheck", "--accept-risk", "coredns", "--detailed-exitcode"]
    )
    assert result.exit_code == 1, result.output
    assert "expected CLUSTER/ADDON:RiskName" in result.stderr
    assert not (tmp_path / ".reconciler").exists()


def test_plan_precheck_shows_accepted_and_blocking_risks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [
        "plan", DEMO, "--cluster", "demo-prod", "--precheck", "--format", "json",
        "--accept-risk", "demo-prod/everest:SomeOtherRisk",
    ])
    # The Fatal AddonValidate blocks: the plan is shown, and it fails.
    assert result.exit_code == 1, result.output
    plan = json.loads(result.stdout)
    findings = {
        f["risk"]: f
        for ch in plan["clusters"][0]["changes"] if ch["addon"] == "coredns"
        for f in ch["findings"]
    }
    assert findings["AddonValidate"]["level"] == "Fatal"
    assert findings["AddonValidate"]["accepted"] is False
    assert findings["K8sResourceModified"]["accepted"] is True  # precheck.accept in the file
