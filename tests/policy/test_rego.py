"""Loading and evaluating Rego policies (conftest conventions) with the embedded runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model.policy import PolicyLevel
from reconciler.policy import PolicyError, evaluate, load_policies, unused_acceptances

DELETE = {"resource_changes": [
    {"address": "prod-a/npd", "type": "npd", "cluster": {"name": "prod-a", "labels": {}},
     "change": {"actions": ["delete"], "before": {"version": "1.0", "values": {}},
                "after": None, "sensitive": []}}]}
NOTHING: dict[str, object] = {"resource_changes": []}


def _policy(tmp_path: Path, text: str, name: str = "p.rego") -> Path:
    path = tmp_path / "policies" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.parent


def test_deny_violation_and_warn_rules_by_conftest_convention(tmp_path: Path) -> None:
    root = _policy(tmp_path, """package main
import rego.v1
deny contains "plain deny" if { count(input.resource_changes) > 0 }
violation_named contains {"msg": "object with msg", "details": 1} if { true }
warn_soft contains msg if { some rc in input.resource_changes; msg := rc.address }
deny_complete if { count(input.resource_changes) > 0 }
other contains "not a rule of ours" if { true }
""")
    report = evaluate(load_policies([root]), DELETE)
    got = {(r.rule, r.level, r.message) for r in report.results}
    assert got == {
        ("deny", PolicyLevel.DENY, "plain deny"),
        ("violation_named", PolicyLevel.DENY, "object with msg"),
        ("warn_soft", PolicyLevel.WARN, "prod-a/npd"),
        ("deny_complete", PolicyLevel.DENY, "deny_complete"),
    }
    assert len(report.denied) == 3
    clean = evaluate(load_policies([root]), NOTHING)
    assert [r.rule for r in clean.results] == ["violation_named"]


def test_accepting_by_rule_qualified_rule_or_message(tmp_path: Path) -> None:
    root = _policy(tmp_path, """package main
import rego.v1
deny_a contains "first" if { true }
deny_b contains "second" if { true }
deny_c contains "third" if { true }
""")
    policies = load_policies([root])
    report = evaluate(policies, NOTHING, ["deny_a", "main.deny_b", "third", "nope"])
    assert all(r.accepted for r in report.results)
    assert report.denied == ()
    assert unused_acceptances(report, ["deny_a", "nope"]) == ["nope"]
    assert len(evaluate(policies, NOTHING, ["deny_a"]).denied) == 2


def test_a_malformed_policy_names_file_line_and_column(tmp_path: Path) -> None:
    root = _policy(tmp_path, "package main\nimport rego.v1\n\ndeny contains msg if {\n"
                             "  msg := 1 +\n}\n", name="broken.rego")
    with pytest.raises(PolicyError) as caught:
        load_policies([root])
    assert str(caught.value) == f"{root / 'broken.rego'}:5:12: Invalid arithmetic operator"


def test_missing_paths_empty_dirs_and_unknown_namespaces_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file or directory"):
        load_policies([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyError, match=r"no \.rego files"):
        load_policies([tmp_path / "empty"])
    root = _policy(tmp_path, "package main\nimport rego.v1\ndeny contains 1 if { true }\n")
    with pytest.raises(PolicyError, match="no policy file declares `package cce`"):
        load_policies([root], ["cce"])
    with pytest.raises(PolicyError, match="not a Rego package name"):
        load_policies([root], ["main; x := 1"])


def test_namespaces_choose_the_packages_evaluated(tmp_path: Path) -> None:
    root = _policy(tmp_path, "package main\nimport rego.v1\ndeny contains \"m\" if { true }\n")
    _policy(tmp_path, "package cce.addons\nimport rego.v1\ndeny contains \"c\" if { true }\n",
            name="cce.rego")
    assert [r.message for r in evaluate(load_policies([root]), NOTHING).results] == ["m"]
    both = evaluate(load_policies([root], ["main", "cce.addons"]), NOTHING)
    assert {(r.namespace, r.message) for r in both.results} == {("main", "m"),
                                                                ("cce.addons", "c")}


def test_test_files_are_left_out_and_the_digest_follows_the_contents(tmp_path: Path) -> None:
    root = _policy(tmp_path, "package main\nimport rego.v1\ndeny contains \"m\" if { true }\n")
    _policy(tmp_path, "this is not rego at all", name="p_test.rego")
    first = load_policies([root])
    assert [f.name for f in first.files] == [str(root / "p.rego")]
    assert first.digest == load_policies([root]).digest
    (root / "p.rego").write_text("package main\nimport rego.v1\ndeny contains \"n\" if { true }\n")
    assert load_policies([root]).digest != first.digest
    assert load_policies([root], ["main"]).digest == load_policies([root]).digest


def test_an_integer_past_64_bits_in_the_input_is_still_evaluated(tmp_path: Path) -> None:
    root = _policy(tmp_path, "package main\nimport rego.v1\n"
                             "deny contains \"big\" if { input.n > 5 }\n")
    report = evaluate(load_policies([root]), {"n": 10**30, "resource_changes": []})
    assert [r.message for r in report.results] == ["big"]


def test_the_policy_input_of_a_real_plan_follows_its_schema(tmp_path: Path) -> None:
    import json

    import jsonschema
    from click.testing import CliRunner

    from reconciler.cli import cli
    from reconciler.policy import policy_input
    from reconciler.policy.input import INPUT_SCHEMA_PATH

    root = Path(__file__).resolve().parent.parent.parent
    result = CliRunner().invoke(cli, [
        "plan", str(root / "examples" / "demo.yaml"), "--format", "json", "--precheck",
        "--state-dir", str(tmp_path / "state")], env={"NO_COLOR": "1"})
    plan = json.loads(result.stdout)
    document = policy_input(plan)
    assert document["resource_changes"] == plan["resource_changes"]
    assert any(rc["precheck_risks"] for rc in document["resource_changes"])
    schema = json.loads(INPUT_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    document["resource_changes"][0]["change"]["actions"] = ["upgrade"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
