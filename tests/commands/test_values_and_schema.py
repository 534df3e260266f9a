"""``reconciler values``, ``reconciler schema --addon/--with-values`` and the
offline value check of ``validate``, through the real CLI and the in-process
emulator; every example's values validate against the generated schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.config.loader import load_desired
from reconciler.model.trust import EnvRule

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
# every packaged example, with the variables it plans with
PLANNED = [
    (EXAMPLES / "demo.yaml", []),
    (EXAMPLES / "fleet.yaml", []),
    (EXAMPLES / "multi-env" / "fleet.yaml", [str(EXAMPLES / "multi-env" / "prod.vars.yaml")]),
    (EXAMPLES / "multi-env" / "fleet.yaml",
     [str(EXAMPLES / "multi-env" / "staging.vars.yaml")]),
]


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # .reconciler/ (emulator state, template cache) lands here
    monkeypatch.setenv("AUTOSCALER_TOKEN", "token-never-shown-4711")
    monkeypatch.setenv("RECONCILER_ALLOW_ENV", "AUTOSCALER_TOKEN")  # the operator's allowance
    monkeypatch.setenv("NO_COLOR", "1")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_values_shows_the_template_defaults() -> None:
    result = run("values", "autoscaler", str(EXAMPLES / "demo.yaml"), "--version", "1.29.17")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# autoscaler 1.29.17: template defaults (read from emulator://demo")
    assert any(line.split() == ["custom.maxNodesTotal", "1000"] for line in lines)
    assert any("flavor preset Single" in line for line in lines)


def test_values_for_a_cluster_shows_full_values_with_provenance_and_masks_secrets() -> None:
    result = run("values", "autoscaler", str(EXAMPLES / "multi-env" / "fleet.yaml"),
                 "--var-file", str(EXAMPLES / "multi-env" / "prod.vars.yaml"),
                 "--cluster", "demo-prod")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
            if line.startswith("  ")}
    assert rows["custom.maxNodesTotal"][-1] == "(desired)"
    assert rows["custom.cluster_id"] == ['"6b400e1c-4368-11f0-ba56-0255ac100037"', "(derived)"]
    assert rows["custom.coresTotal"][-1] in ("(live)", "(default)")
    assert rows["custom.password"] == ["(sensitive)", "(desired)"]
    assert "token-never-shown-4711" not in result.output


def test_values_refuses_an_unknown_add_on_or_version_with_what_exists() -> None:
    # without FILE and before any plan there is nothing to read
    result = run("values", "autoscaler")
    assert result.exit_code == 1 and "run plan once" in result.stderr
    demo = str(EXAMPLES / "demo.yaml")
    result = run("values", "autoscaller", demo)
    assert result.exit_code == 1
    assert "no add-on template `autoscaller`" in result.stderr
    assert "did you mean autoscaler?" in result.stderr
    result = run("values", "autoscaler", demo, "--version", "9.9.9")
    assert result.exit_code == 1 and "versions: 1.31.7, 1.30.15" in result.stderr
    assert "Traceback" not in result.output


def test_schema_and_values_work_offline_from_the_last_plan() -> None:
    assert run("plan", str(EXAMPLES / "demo.yaml")).exit_code == 0
    assert [p.suffix for p in Path(".reconciler/templates").iterdir()] == [".json"]
    result = run("schema", "--addon", "coredns", "--version", "1.28.7")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    custom = schema["properties"]["custom"]
    assert custom["additionalProperties"] is False
    assert custom["properties"]["multiAZEnabled"]["default"] is False
    assert custom["properties"]["stub_domains"]["type"] == "object"
    assert "additionalProperties" not in custom["properties"]["stub_domains"]
    assert schema["properties"]["flavor"]["properties"]["name"]["enum"][:4] == [
        "2500", "5000", "10000", "20000"]
    assert run("values", "coredns").exit_code == 0


def _with_values(example: Path, var_files: list[str] | None = None) -> dict[str, Any]:
    given = [arg for f in var_files or [] for arg in ("--var-file", f)]
    result = run("schema", "--with-values", str(example), *given)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _values_validator(schema: dict[str, Any], addon: str) -> jsonschema.Draft202012Validator:
    ref = f"#/$defs/addons/properties/{addon}/allOf/1/properties/values"
    return jsonschema.Draft202012Validator({"$ref": ref, "$defs": schema["$defs"]})


@pytest.mark.parametrize(("example", "var_files"), PLANNED,
                         ids=["demo", "fleet", "multi-env-prod", "multi-env-staging"])
def test_every_example_fits_the_schema_generated_from_its_templates(
        example: Path, var_files: list[str]) -> None:
    schema = _with_values(example, var_files)
    desired = load_desired([str(example)], var_files=var_files, need_secrets=False,
                           allowed_env=EnvRule.of(["AUTOSCALER_TOKEN"]))
    checked = 0
    for cluster in desired.clusters:
        for addon in cluster.addons:
            if addon.values and not addon.allow_unknown_values:
                _values_validator(schema, addon.name).validate(dict(addon.values))
                checked += 1
    assert checked
    if "{{" not in example.read_text() or example.name == "demo.yaml":
        # a file without Jinja statements is YAML as written: the whole of it validates
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(example.read_text()))


def test_a_wrong_type_or_an_unknown_key_fails_the_generated_schema() -> None:
    schema = _with_values(EXAMPLES / "demo.yaml")
    validator = _values_validator(schema, "autoscaler")
    validator.validate({"custom": {"maxNodesTotal": 80, "scaleDownEnabled": "true"}})
    validator.validate({"custom": {"maxNodesTotal": "80"}})  # plan reads "80" as 80
    for wrong in ({"custom": {"maxNodesTotal": "eighty"}},
                  {"custom": {"scaleDownEnabled": {"on": True}}},
                  {"custom": {"maxNodeTotal": 80}},
                  {"flavor": {"name": "Huge"}}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(wrong)
    document = yaml.safe_load((EXAMPLES / "demo.yaml").read_text())
    document["clusters"]["demo-prod"]["addons"]["autoscaler"]["values"]["custom"][
        "maxNodesTotal"] = [80]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)
    document["clusters"]["demo-prod"]["addons"]["autoscaler"]["values"]["custom"][
        "maxNodesTotal"] = 80
    document["clusters"]["demo-prod"]["addons"]["autoscaler"]["flavor"] = "Huge"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_validate_checks_value_keys_offline_after_a_plan(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text((EXAMPLES / "demo.yaml").read_text().replace(
        "maxNodesTotal: 80 ", "maxNodeTotal: 80  "))
    before = run("validate", str(typo))
    assert before.exit_code == 0
    assert "values: not checked against the add-on templates: no plan has read them here yet" \
        in before.stdout
    planned = run("plan", str(typo))
    assert planned.exit_code == 1 and "did you mean maxNodesTotal?" in planned.stderr
    after = run("validate", str(typo))
    assert after.exit_code == 1, after.output
    assert "typo.yaml:47:27: error: clusters.demo-prod.addons.autoscaler.values.custom." \
           "maxNodeTotal: `maxNodeTotal` is not a value of `autoscaler` 1.29.17 " \
           "(did you mean maxNodesTotal?" in after.stderr
    valid = run("validate", str(EXAMPLES / "demo.yaml"))
    assert valid.exit_code == 0
    # demo-prod's and demo-staging's values are checked; demo-legacy declares none
    assert "values: 3 add-ons checked against the templates the last plan kept" in valid.stdout


def test_the_kept_catalogue_holds_no_secret() -> None:
    planned = run("plan", str(EXAMPLES / "multi-env" / "fleet.yaml"),
                  "--var-file", str(EXAMPLES / "multi-env" / "prod.vars.yaml"))
    assert planned.exit_code == 0, planned.output
    [kept] = list(Path(".reconciler/templates").iterdir())
    text = kept.read_text()
    assert '"autoscaler"' in text and "maxNodesTotal" in text  # it is the catalogue
    assert "token-never-shown-4711" not in text
