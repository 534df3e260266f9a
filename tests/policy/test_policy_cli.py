"""``--policy`` through the CLI, against the in-process demo emulator: each example
policy driven to a deny and a pass, the override and its journal line, the
saved-plan re-check, and a bad policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.policy import evaluate, load_policies

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO = str(ROOT / "examples" / "demo.yaml")
POLICIES = ROOT / "examples" / "policies"


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--state-dir", str(tmp_path / "state")],
                              env={"NO_COLOR": "1", **(env or {})})


def _policy(name: str) -> str:
    return str(POLICIES / name)


def _edited_copy(tmp_path: Path, name: str, old: str, new: str) -> str:
    """An example policy with one constant changed (a stricter team's copy)."""
    text = (POLICIES / name).read_text(encoding="utf-8")
    assert old in text
    target = tmp_path / "edited" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new), encoding="utf-8")
    return str(target)


def _plan_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = _run(tmp_path, "plan", DEMO, "--format", "json", *args)
    data: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, data


def test_no_deletes_in_prod_denies_the_demo_and_passes_staging(tmp_path: Path) -> None:
    denied = _run(tmp_path, "plan", DEMO, "--policy", _policy("no_deletes_in_prod.rego"))
    assert denied.exit_code == 1
    assert "DENY     main.deny_delete_in_prod: demo-prod/npd: deleting an add-on" in denied.stdout
    assert "--accept-policy deny_delete_in_prod" in denied.stderr
    passed = _run(tmp_path, "plan", DEMO, "--cluster", "demo-staging",
                  "--policy", _policy("no_deletes_in_prod.rego"))
    assert passed.exit_code == 0, passed.output
    assert "Policy: passed (1 file, namespace main)" in passed.stdout


def test_version_allowlist_passes_tested_versions_and_denies_others(tmp_path: Path) -> None:
    passed = _run(tmp_path, "plan", DEMO, "--policy", _policy("version_allowlist.rego"))
    assert passed.exit_code == 0, passed.output
    strict = _edited_copy(tmp_path, "version_allowlist.rego", '"2.4.7", "2.4.28"', '"2.4.7"')
    denied = _run(tmp_path, "plan", DEMO, "--policy", strict)
    assert denied.exit_code == 1
    assert ("main.deny_untested_version: demo-prod/everest: everest 2.4.28 is not a tested"
            " version (tested: 2.3.14, 2.4.7)") in denied.stdout


def test_cap_on_clusters_changed_per_run(tmp_path: Path) -> None:
    passed = _run(tmp_path, "plan", DEMO, "--policy", _policy("max_clusters_per_run.rego"))
    assert passed.exit_code == 0, passed.output
    capped = _edited_copy(tmp_path, "max_clusters_per_run.rego", "max_clusters := 20",
                          "max_clusters := 2")
    denied = _run(tmp_path, "plan", DEMO, "--policy", capped)
    assert denied.exit_code == 1
    assert "3 clusters would change in one run (at most 2)" in denied.stdout
    # Selecting fewer clusters is how a team stays under the cap.
    fewer = _run(tmp_path, "plan", DEMO, "--policy", capped, "--cluster", "demo-prod",
                 "--cluster", "demo-staging")
    assert fewer.exit_code == 0, fewer.output


def test_protected_values_deny_a_change_and_warn_in_prod(tmp_path: Path) -> None:
    passed = _run(tmp_path, "plan", DEMO, "--policy", _policy("protected_values.rego"))
    assert passed.exit_code == 0, passed.output
    assert ("WARN     main.warn_protected_in_prod: demo-prod/autoscaler: custom.maxNodesTotal"
            " changes in production") in passed.stdout
    denied = _run(tmp_path, "plan", DEMO, "--policy", _policy("protected_values.rego"),
                  "--var", "nameserver=10.9.9.9")
    assert denied.exit_code == 1
    assert ("main.deny_protected_value: demo-prod/coredns: custom.upstream_nameservers[0]"
            " is protected") in denied.stdout


def test_markdown_shows_the_policy_section_first(tmp_path: Path) -> None:
    result = _run(tmp_path, "plan", DEMO, "--format", "markdown", "--policy", str(POLICIES))
    assert result.exit_code == 1
    assert result.stdout.startswith("#### ⛔ Policy: 1 denied, 1 warning (4 files, namespace main)")
    assert "| ⛔ deny | `main.deny_delete_in_prod` |" in result.stdout
    assert result.stdout.index("Policy") < result.stdout.index("### Plan:")


def test_json_has_the_results_and_terraform_shaped_resource_changes(tmp_path: Path) -> None:
    code, data = _plan_json(tmp_path, "--policy", str(POLICIES))
    assert code == 1
    assert data["policy"]["denied"] == 1 and data["policy"]["warnings"] == 1
    changes = {rc["address"]: rc for rc in data["resource_changes"]}
    assert changes["demo-prod/npd"]["change"]["actions"] == ["delete"]
    assert changes["demo-prod/npd"]["change"]["after"] is None
    assert changes["demo-staging/autoscaler"]["change"]["actions"] == ["create"]
    assert changes["demo-prod/coredns"]["change"]["actions"] == ["update", "upgrade"]
    assert changes["demo-prod/coredns"]["change"]["after"]["version"] == "1.30.33"
    assert changes["demo-prod/autoscaler"]["change"]["after"]["values"][
        "custom.maxNodesTotal"] == 80
    assert all(rc["change"]["actions"][0] != "no-op" or "adopt" in rc["change"]["actions"]
               for rc in data["resource_changes"])
    # What conftest reads (the plan JSON) gives what --policy gave.
    again = evaluate(load_policies([POLICIES]), data)
    assert [(r.rule, r.message) for r in again.results] == [
        (r["rule"], r["message"]) for r in data["policy"]["results"]]


def test_override_applies_and_is_journalled(tmp_path: Path) -> None:
    args = ("apply", DEMO, "--auto-approve", "--cluster", "demo-prod", "--addon", "npd",
            "--policy", str(POLICIES))
    refused = _run(tmp_path, *args)
    assert refused.exit_code == 1
    assert "Apply refused: a policy denies the plan" in refused.stderr
    assert not list((tmp_path / "state").glob("*.journal.jsonl"))
    applied = _run(tmp_path, *args, "--accept-policy", "deny_delete_in_prod")
    assert applied.exit_code == 0, applied.output
    assert "ACCEPTED main.deny_delete_in_prod" in applied.stdout
    records = [json.loads(line) for line in
               (tmp_path / "state" / "demo-prod.journal.jsonl").read_text().splitlines()]
    overrides = [r for r in records if r["action"] == "policy-override"]
    assert len(overrides) == 1
    assert overrides[0]["rule"] == "main.deny_delete_in_prod"
    assert overrides[0]["result"] == "accepted"
    assert overrides[0]["policy_digest"] == load_policies([POLICIES]).digest
    deleted = [r for r in records if r.get("action") == "delete"]
    assert deleted and records.index(overrides[0]) < records.index(deleted[0])


def test_a_saved_plan_is_checked_again_against_the_same_policies(tmp_path: Path) -> None:
    plan_file = str(tmp_path / "p.json")
    policies = tmp_path / "pol"
    shutil.copytree(POLICIES, policies)
    planned = _run(tmp_path, "plan", DEMO, "--cluster", "demo-prod", "--addon", "npd",
                   "--policy", str(policies), "--out", plan_file)
    assert planned.exit_code == 1  # denied, but saved for review
    saved = json.loads(Path(plan_file).read_text())
    assert saved["policy"]["denied"] == 1

    denied = _run(tmp_path, "apply", plan_file, "--policy", str(policies))
    assert denied.exit_code == 1
    assert "main.deny_delete_in_prod: demo-prod/npd" in denied.stderr
    without = _run(tmp_path, "apply", plan_file)
    assert without.exit_code == 1
    assert "runs without one: give the same --policy" in without.stderr
    (policies / "version_allowlist.rego").write_text(
        (policies / "version_allowlist.rego").read_text().replace('"2.4.28"', '"2.4.29"'))
    changed = _run(tmp_path, "apply", plan_file, "--policy", str(policies),
                   "--accept-policy", "deny_delete_in_prod")
    assert changed.exit_code == 1
    assert "the policies changed since the plan was made" in changed.stderr
    assert not list((tmp_path / "state").glob("*.journal.jsonl"))

    shutil.rmtree(policies)
    shutil.copytree(POLICIES, policies)
    ok = _run(tmp_path, "apply", plan_file, "--policy", str(policies),
              "--accept-policy", "main.deny_delete_in_prod")
    assert ok.exit_code == 0, ok.output
    journal = (tmp_path / "state" / "demo-prod.journal.jsonl").read_text()
    assert '"action":"policy-override"' in journal


def test_a_plan_made_without_policies_is_not_applied_with_them(tmp_path: Path) -> None:
    plan_file = str(tmp_path / "p.json")
    assert _run(tmp_path, "plan", DEMO, "--out", plan_file).exit_code == 0
    result = _run(tmp_path, "apply", plan_file, "--policy", str(POLICIES))
    assert result.exit_code == 1
    assert "the plan was made without --policy" in result.stderr


def test_a_bad_policy_is_one_error_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rules.rego").write_text("package main\nimport rego.v1\n\ndeny contains m if {\n"
                                    "  m := input.x +\n}\n")
    result = _run(tmp_path, "plan", DEMO, "--policy", str(bad))
    assert result.exit_code == 1
    assert result.stderr == f"error: {bad / 'rules.rego'}:5:16: Invalid arithmetic operator\n"
    assert result.stdout == ""
    assert not (tmp_path / "state").exists()
    missing = _run(tmp_path, "apply", DEMO, "--policy", str(tmp_path / "nope"))
    assert missing.exit_code == 1
    assert "no such file or directory" in missing.stderr


def test_policies_come_from_the_environment_not_from_files(tmp_path: Path) -> None:
    by_env = _run(tmp_path, "plan", DEMO, env={"RECONCILER_POLICY": str(POLICIES)})
    assert by_env.exit_code == 1
    assert "main.deny_delete_in_prod" in by_env.stdout
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(Path(DEMO).read_text() + "\npolicy: {accept: [deny_delete_in_prod]}\n")
    refused = CliRunner().invoke(cli, ["validate", str(hostile)], env={"NO_COLOR": "1"})
    assert refused.exit_code == 1
    assert "policy" in refused.stderr, refused.output


def test_accept_policy_without_policies_and_unused_words_are_said(tmp_path: Path) -> None:
    alone = _run(tmp_path, "plan", DEMO, "--accept-policy", "deny_x")
    assert alone.exit_code == 1
    assert "--accept-policy needs --policy" in alone.stderr
    typo = _run(tmp_path, "plan", DEMO, "--policy", str(POLICIES), "--accept-policy",
                "deny_delete_in_prod", "--accept-policy", "deny_delete_in_prd")
    assert typo.exit_code == 0, typo.output
    assert "warning: --accept-policy 'deny_delete_in_prd' names no policy denial" in typo.stderr


def test_no_secret_reaches_the_policy_input(tmp_path: Path) -> None:
    marker = "S3CR3T-MARKER-policy"
    fleet = str(ROOT / "examples" / "multi-env" / "fleet.yaml")
    result = CliRunner().invoke(cli, [
        "plan", fleet, "--var-file", str(ROOT / "examples" / "multi-env" / "prod.vars.yaml"),
        "--format", "json", "--policy", str(POLICIES), "--state-dir", str(tmp_path / "s")],
        env={"NO_COLOR": "1", "AUTOSCALER_TOKEN": marker,
             "RECONCILER_ALLOW_ENV": "AUTOSCALER_TOKEN"})
    assert result.exit_code in (0, 1), result.output
    assert marker not in result.output
    data = json.loads(result.stdout)
    assert data["resource_changes"]
    assert marker not in json.dumps(data["resource_changes"])


def test_the_json_rendering_is_still_a_plan_file(tmp_path: Path) -> None:
    rendered = _run(tmp_path, "plan", DEMO, "--format", "json")
    assert rendered.exit_code == 0, rendered.output
    plan_file = tmp_path / "rendered.json"
    plan_file.write_text(rendered.stdout, encoding="utf-8")
    shown = CliRunner().invoke(cli, ["show", str(plan_file)], env={"NO_COLOR": "1"})
    assert shown.exit_code == 0, shown.output
    assert "Plan:" in shown.stdout
