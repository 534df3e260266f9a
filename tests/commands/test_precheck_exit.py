"""Issue 21: ``plan --precheck`` printed "1 blocked by precheck" and exited 0,
so a CI job passed on a change the merge-time apply then refused. A plan whose
changes the server precheck blocks now exits 1 and says, per risk, what to do:
the exact ``--accept-risk`` for a Warning, fixing the cause for a Fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.yaml"
WARNING_LINE = (
    "  - demo-prod/coredns: K8sResourceModified (Warning): resource configmap/coredns in"
    " kube-system was modified outside the add-on; to accept it: --accept-risk"
    " demo-prod/coredns:K8sResourceModified (or `precheck: {accept: [K8sResourceModified]}`"
    " on the add-on)")
FATAL_START = "  - demo-prod/coredns: AddonValidate (Fatal): "
FATAL_END = ("; a Fatal risk can't be accepted: fix its cause on the cluster (or change what"
             " the files ask), then plan again")


@pytest.fixture
def unaccepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo without its reviewed acceptance of demo-prod's coredns Warning."""
    monkeypatch.chdir(tmp_path)
    text = DEMO.read_text(encoding="utf-8")
    assert "accept: [K8sResourceModified]" in text
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("accept: [K8sResourceModified]", "accept: []"),
                    encoding="utf-8")
    return path


def _plan(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["plan", str(path), "--precheck", "--cluster", "demo-prod",
                                    "--addon", "coredns", *args], env={"NO_COLOR": "1"})


def test_an_unaccepted_warning_and_a_fatal_risk_fail_the_plan_naming_the_fix(
        unaccepted: Path) -> None:
    result = _plan(unaccepted)
    assert result.exit_code == 1, result.output
    assert "1 blocked by precheck." in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the server precheck blocks 1 change; apply would refuse it:"
    assert lines[1] == WARNING_LINE
    assert lines[2].startswith(FATAL_START) and lines[2].endswith(FATAL_END)
    assert len(lines) == 3


def test_the_named_accept_risk_removes_the_warning_but_not_the_fatal(unaccepted: Path) -> None:
    result = _plan(unaccepted, "--accept-risk", "demo-prod/coredns:K8sResourceModified",
                   "--detailed-exitcode")
    assert result.exit_code == 1, result.output
    assert "K8sResourceModified" not in result.stderr
    assert FATAL_START in result.stderr


def test_a_plan_without_blocked_changes_keeps_its_exit_codes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan", str(DEMO), "--precheck", "--cluster",
                                      "demo-prod", "--addon", "everest", "--detailed-exitcode"],
                                env={"NO_COLOR": "1"})
    assert result.exit_code == 2, result.output
    assert "blocked" not in result.stdout + result.stderr
    result = CliRunner().invoke(cli, ["plan", str(DEMO), "--precheck", "--cluster",
                                      "demo-prod", "--addon", "everest"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
