"""Scenario loading (errors name file and key), the example scenario, generated scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator import ScenarioError, generate_scenario, load_scenario

EXAMPLE = Path(__file__).parents[2] / "examples" / "scenarios" / "minimal.yaml"


def test_example_scenario_loads_with_defaults_merged() -> None:
    scenario = load_scenario(EXAMPLE)
    inst = scenario.instances[0]
    assert inst.values["flavor"]["name"] == 5000
    assert inst.values["custom"]["upstream_nameservers"] == ["10.0.0.2"]
    assert inst.values["custom"]["cluster_id"] == scenario.clusters[0].id


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("version: v1.29", "version: 1.29x"), "clusters[0].version"),
        (lambda t: t.replace("template: coredns\n    version: 1.29.4",
                             "template: coredns\n    version: 9.9.9"), "instances[0].version"),
        (lambda t: t.replace("level: Fatal", "level: Severe"), "precheck_rules[0].level"),
        (lambda t: t.replace("operation: upgrade", "operation: reboot"),
         "failure_rules[0].operation"),
        (lambda t: t + "\nbogus: 1\n", "bogus: unknown key"),
        (lambda t: t.replace('flavor: "5000"', 'flavor: "7"'), "instances[0].flavor"),
    ],
)
def test_bad_scenarios_name_file_and_key(tmp_path: Path, edit: object, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit(EXAMPLE.read_text()))  # type: ignore[operator]
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert str(info.value).startswith(str(bad)) and expected in str(info.value)


def test_generated_scenario_is_deterministic_and_in_sync_with_defaults() -> None:
    a, b = generate_scenario(20, seed=3), generate_scenario(20, seed=3)
    assert [i.id for i in a.instances] == [i.id for i in b.instances]
    assert len(a.clusters) == 20 and len(a.instances) == 20 * 8 - _unsupported(a)
    inst = a.instances[0]
    template = next(t for t in a.templates if t.name == inst.template)
    tv = template.version(inst.version)
    assert tv is not None and inst.values["basic"] == tv.input["basic"]


def _unsupported(scenario: object) -> int:
    from reconciler.emulator.scenario import Scenario

    assert isinstance(scenario, Scenario)
    count = 0
    for c in scenario.clusters:
        for t in scenario.templates:
            if not any(v.supports(c.type, c.category, c.version) for v in t.versions):
                count += 1
    return count
