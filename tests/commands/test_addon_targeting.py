"""``--addon`` targeting and ``plan --precheck`` blocked counts, on the real CLI
against the in-process demo emulator (``emulator://demo``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = str(ROOT / "examples" / "demo.yaml")


def _run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--state-dir", str(tmp_path / "state")],
                              env={"NO_COLOR": "1"})


def _plan_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = _run(tmp_path, "plan", DEMO, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_plan_keeps_only_the_targeted_addons_and_records_them(tmp_path: Path) -> None:
    full = _plan_json(tmp_path)
    targeted = _plan_json(tmp_path, "--addon", "everest", "--addon", "autoscaler")
    addons = {ch["addon"] for c in targeted["clusters"] for ch in c["changes"]}
    assert addons == {"everest", "autoscaler"}
    assert {ch["addon"] for c in full["clusters"] for ch in c["changes"]} > addons
    assert targeted["targets"] == ["autoscaler", "everest"]
    assert "targets" not in full  # untargeted plans are unchanged
    assert targeted["plan_id"] != full["plan_id"]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_targeted_plan_says_so_like_terraform_target(tmp_path: Path, fmt: str) -> None:
    result = _run(tmp_path, "plan", DEMO, "--addon", "everest", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "Targeting is in effect (--addon everest)" in result.stdout
    untargeted = _run(tmp_path, "plan", DEMO, "--format", fmt)
    assert "Targeting" not in untargeted.stdout


def test_an_unknown_addon_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    result = _run(tmp_path, "plan", DEMO, "--addon", "evrest")
    assert result.exit_code == 1
    assert "--addon 'evrest' is not declared on any selected cluster" in result.stderr
    assert "known add-ons: autoscaler, coredns, everest, metrics-server, npd" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "state").exists()


def test_addon_names_are_checked_against_the_selected_clusters(tmp_path: Path) -> None:
    # demo-staging declares no npd: targeting it there plans nothing, so it is an error.
    result = _run(tmp_path, "plan", DEMO, "--cluster", "demo-staging", "--addon", "npd")
    assert result.exit_code == 1
    assert "'npd' is not declared" in result.stderr


def test_a_saved_targeted_plan_applies_only_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "t.plan.json"
    planned = _run(tmp_path, "plan", DEMO, "--cluster", "demo-prod", "--addon", "everest",
                   "--out", str(out))
    assert planned.exit_code == 0, planned.output
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["targets"] == ["everest"]
    shown = CliRunner().invoke(cli, ["show", str(out)], env={"NO_COLOR": "1"})
    assert "Targeting is in effect" in shown.stdout
    refused = _run(tmp_path, "apply", str(out), "--addon", "coredns")
    assert refused.exit_code == 1
    assert "--addon don't apply to a saved plan" in refused.stderr
    applied = _run(tmp_path, "apply", str(out))
    assert applied.exit_code == 0, applied.output
    state = _run(tmp_path, "state", "show", "demo-prod", "--json")
    assert state.exit_code == 0, state.output
    assert set(json.loads(state.stdout)["addons"]) == {"everest"}


def test_apply_from_files_follows_addon(tmp_path: Path) -> None:
    applied = _run(tmp_path, "apply", DEMO, "--cluster", "demo-prod", "--addon", "everest",
                   "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Targeting is in effect" in applied.stdout
    state = _run(tmp_path, "state", "show", "demo-prod", "--json")
    assert set(json.loads(state.stdout)["addons"]) == {"everest"}


def test_a_tampered_target_list_breaks_the_digest(tmp_path: Path) -> None:
    out = tmp_path / "t.plan.json"
    assert _run(tmp_path, "plan", DEMO, "--addon", "everest", "--out", str(out)).exit_code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    data["targets"] = ["everest", "coredns"]
    out.write_text(json.dumps(data), encoding="utf-8")
    result = _run(tmp_path, "apply", str(out), "--auto-approve")
    assert result.exit_code == 1
    assert "digest" in result.stderr


def test_drift_refuses_addon_rather_than_hide_drift(tmp_path: Path) -> None:
    result = _run(tmp_path, "drift", DEMO, "--addon", "everest")
    assert result.exit_code == 1
    assert "drift always reports every add-on" in result.stderr


# --- plan --precheck ------------------------------------------------------------


def test_precheck_counts_blocked_addons_in_every_format(tmp_path: Path) -> None:
    # demo-prod's coredns upgrade has a Fatal AddonValidate risk (examples/demo.yaml).
    args = ("plan", DEMO, "--cluster", "demo-prod", "--precheck", "--precheck-timeout", "30")
    data = json.loads(_run(tmp_path, *args, "--format", "json").stdout)
    assert data["summary"]["blocked"] == 1
    text = _run(tmp_path, *args).stdout
    assert text.rstrip().endswith("1 blocked by precheck.")
    markdown = _run(tmp_path, *args, "--format", "markdown").stdout
    assert "1 blocked by precheck." in markdown
    # Without --precheck nothing is known to be blocked, and nothing is said.
    plain = json.loads(_run(tmp_path, "plan", DEMO, "--format", "json").stdout)
    assert "blocked" not in plain["summary"]


def test_precheck_detailed_exitcode_with_a_blocked_addon_exits_1(tmp_path: Path) -> None:
    """Documented (plan --help, docs/plan-json.md): blocked changes remain changes in
    the plan, but a plan known to be refused at apply time fails (exit 1, not 2)."""
    result = _run(tmp_path, "plan", DEMO, "--cluster", "demo-prod", "--addon", "coredns",
                  "--precheck", "--detailed-exitcode")
    assert result.exit_code == 1, result.output
    assert "1 blocked by precheck." in result.stdout
    assert "error: the server precheck blocks 1 change" in result.stderr


def test_precheck_timeout_below_one_second_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "plan", DEMO, "--precheck", "--precheck-timeout", "0")
    assert result.exit_code == 1
    assert "--precheck-timeout" in result.stderr
