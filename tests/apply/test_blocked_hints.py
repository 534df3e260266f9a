"""A blocked precheck says what would let the write go.

The demo's coredns upgrade meets a Fatal `AddonValidate` risk (its Corefile was
edited) and a Warning `K8sResourceModified` the file accepts. Without that
acceptance the Warning blocks too, and the message names the exact flag; the
Fatal risk says that no flag will do. A blocked line never lists accepted
risks, which read as if the write had passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"
ACCEPT = ("        precheck:\n"
          "          accept: [K8sResourceModified]        # a Warning we have reviewed\n")


def _apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Result:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_AUTH_TOKEN", "RECONCILER_STATE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    # Only the coredns upgrade: the rest of the demo would only make the test slower.
    return CliRunner().invoke(cli, ["apply", "demo.yaml", "--auto-approve", "--cluster",
                                    "demo-prod", "--addon", "coredns",
                                    "--poll-interval", "0.05"])


def _coredns_lines(result: Result) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if "coredns" in line and "blocked" in line]


def test_a_fatal_risk_says_it_cannot_be_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _apply(tmp_path, monkeypatch, DEMO.read_text(encoding="utf-8"))
    assert result.exit_code == 1, result.output
    lines = _coredns_lines(result)
    assert lines, result.output
    for line in lines:
        assert "AddonValidate (Fatal: cannot be accepted)" in line
        assert "fix what it reports, then apply again" in line
        assert "accepted risks" not in line
        assert "--accept-risk" not in line  # no flag would let a Fatal risk pass


def test_an_unaccepted_warning_names_the_flag_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DEMO.read_text(encoding="utf-8")
    assert ACCEPT in text
    result = _apply(tmp_path, monkeypatch, text.replace(ACCEPT, ""))
    assert result.exit_code == 1, result.output
    lines = _coredns_lines(result)
    assert lines, result.output
    for line in lines:
        assert "K8sResourceModified (Warning, not accepted)" in line
        assert "--accept-risk demo-prod/coredns:K8sResourceModified" in line
        assert "AddonValidate (Fatal: cannot be accepted)" in line
