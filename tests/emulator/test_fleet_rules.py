"""Fleet faults (issue 14): rules that select clusters by label, an add-on that
turns abnormal N seconds after it became running, and a ``--rules`` file
re-read while the emulator keeps its state."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from huaweicloudsdkcce.v3 import model as m

from reconciler.cli import cli
from reconciler.emulator import (
    Emulator,
    ScenarioError,
    demo_scenario_path,
    generate_scenario,
    load_scenario,
)
from reconciler.emulator.scenario import load_rules, scenario_from_mapping
from tests.conftest import FakeClock, serve_emulator
from tests.emulator.sdk_helpers import LEGACY, PROD, STAGING, sdk_client

PID = "0504201b6c80256b2f08c0099f0c8fe4"
P = f"/api/v3/projects/{PID}/clusters"


def _client(emu: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app),
                             base_url="http://cce.ap-southeast-1.myhuaweicloud.com",
                             headers={"X-Auth-Token": emu.account.token})


def _rules(path: Path, text: str) -> Path:
    """Write a rules file so its change is seen even within one mtime tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))
    return path


async def _instance(client: httpx.AsyncClient, cluster: str, template: str) -> dict[str, Any]:
    items = (await client.get("/api/v3/addons", params={"cluster_id": cluster})).json()["items"]
    found: dict[str, Any] = next(i for i in items if i["spec"]["addonTemplateName"] == template)
    return found


async def _upgrade(client: httpx.AsyncClient, inst: dict[str, Any], version: str) -> int:
    body = {"kind": "Addon", "apiVersion": "v3",
            "metadata": {"annotations": {"addon.upgrade/type": "upgrade"}},
            "spec": {"clusterID": inst["spec"]["clusterID"], "version": version,
                     "addonTemplateName": inst["spec"]["addonTemplateName"],
                     "values": inst["spec"]["values"]}}
    r = await client.put(f"/api/v3/addons/{inst['metadata']['uid']}", json=body)
    return r.status_code


# --- failure and precheck rules by label ---------------------------------------------------


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Emulator, FakeClock]]:
    """A generated fleet of 20 (one staging canary) with a rule failing everest
    upgrades on the gold and silver ``env=prod`` clusters."""
    rules = _rules(tmp_path / "rules.yaml", """
failure_rules:
  - template: everest
    operation: upgrade
    cluster_labels: "env=prod,tier in (gold,silver)"
    reason: UpgradeFailed
    message: "helm upgrade failed: the new CSI driver crash-loops"
""")
    clock = FakeClock()
    emu = Emulator(generate_scenario(20), clock=clock, rules_file=rules)
    async with _client(emu) as client:
        yield client, emu, clock


async def test_a_failure_rule_selects_clusters_by_label(
        fleet: tuple[httpx.AsyncClient, Emulator, FakeClock]) -> None:
    client, emu, clock = fleet
    outcomes: dict[str, str] = {}
    for cluster in emu.scenario.clusters:
        inst = await _instance(client, cluster.id, "everest")
        # Generated add-ons run their newest version: "upgrade" (a PUT with
        # another version, which is what a failure rule's operation means) to
        # an older one the cluster supports.
        targets = inst["status"]["targetVersions"] or []
        previous = [v.version for v in emu.store.templates["everest"].versions
                    if v.supports(cluster.type, cluster.category, cluster.version)
                    and v.version != inst["spec"]["version"]]
        target = targets[0] if targets else previous[-1]
        assert await _upgrade(client, inst, target) == 200
    clock.advance(21)
    for cluster in emu.scenario.clusters:
        outcomes[cluster.name] = (await _instance(client, cluster.id, "everest"))["status"][
            "status"]
    expected = {c.name: "upgradeFailed" if c.labels["env"] == "prod"
                and c.labels["tier"] in ("gold", "silver") else "running"
                for c in emu.scenario.clusters}
    assert outcomes == expected
    assert "upgradeFailed" in outcomes.values() and "running" in outcomes.values()
    failed = next(c for c in emu.scenario.clusters if expected[c.name] == "upgradeFailed")
    status = (await _instance(client, failed.id, "everest"))["status"]
    assert (status["Reason"], status["message"]) == (
        "UpgradeFailed", "helm upgrade failed: the new CSI driver crash-loops")


async def test_a_precheck_rule_selects_clusters_by_label(tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", """
precheck_rules:
  - template: everest
    cluster_labels: "env in (prod)"
    risk: AddonValidate
    level: Fatal
    message: "the storage class was edited"
""")
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock, rules_file=rules)
    phases = {}
    async with _client(emu) as client:
        for cluster in (PROD, STAGING):
            inst = await _instance(client, cluster, "everest")
            body = {"kind": "AddonCheck", "apiVersion": "v3", "spec": {
                "clusterID": cluster, "addonList": [{
                    "addonTemplateName": "everest", "addonInstanceID": inst["metadata"]["uid"],
                    "type": "addonStatic"}]}}
            assert (await client.post(f"{P}/{cluster}/addons/precheck", json=body)
                    ).status_code == 201
        clock.advance(10)
        for cluster in (PROD, STAGING):
            task = (await client.get(f"{P}/{cluster}/addons/precheck/tasks")).json()["items"][0]
            phases[cluster] = task["status"]["status"]
    assert phases == {PROD: "Failed", STAGING: "Success"}


@pytest.mark.parametrize(("selector", "says"), [
    ("env=", None), ("env in (prod", "`(` without `)`"), ("env==prod,,tier=gold", "empty"),
    ("tier in ()", "lists no values"), ("-bad=x", "not a label key"),
])
def test_a_bad_selector_is_a_scenario_error_naming_file_and_key(
        tmp_path: Path, selector: str, says: str | None) -> None:
    path = _rules(tmp_path / "rules.yaml",
                  f"failure_rules:\n  - template: everest\n    operation: upgrade\n"
                  f"    cluster_labels: \"{selector}\"\n")
    scenario = load_scenario(demo_scenario_path())
    if selector == "env=":  # kubectl allows an empty value: env is set and empty
        assert load_rules(path, scenario).failure_rules[-1].cluster_labels is not None
        return
    with pytest.raises(ScenarioError) as info:
        load_rules(path, scenario)
    message = str(info.value)
    assert message.startswith(f"{path}: failure_rules[0].cluster_labels: is not a label selector")
    assert says is not None and says in message


def test_serve_refuses_a_bad_selector_in_one_line(tmp_path: Path) -> None:
    path = _rules(tmp_path / "rules.yaml", "abnormal_rules:\n  - template: npd\n"
                  "    after_s: 2\n    cluster_labels: \"env in (prod\"\n")
    result = CliRunner().invoke(cli, ["emulator", "serve", "--port", "0", "--rules", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert f"{path}: abnormal_rules[0].cluster_labels: is not a label selector" in lines[0]


def test_scenario_cluster_labels_are_checked() -> None:
    base = {"clusters": [{"id": "c1", "name": "one", "version": "v1.29",
                          "labels": {"env": "prod", "tier": 1}}],
            "templates": []}
    scenario = scenario_from_mapping(base, "s.yaml")
    assert scenario.clusters[0].labels == {"env": "prod", "tier": "1"}
    demo = load_scenario(demo_scenario_path())
    assert {c.name: dict(c.labels) for c in demo.clusters} == {
        "demo-prod": {"env": "prod"}, "demo-staging": {"env": "staging"},
        "demo-legacy": {"env": "legacy"}}
    for labels, key in (({"env": "has space"}, "clusters[0].labels.env"),
                        ({"env": ["prod"]}, "clusters[0].labels.env"),
                        ({"bad key!": "x"}, "clusters[0].labels.bad key!")):
        base["clusters"][0]["labels"] = labels  # type: ignore[index]
        with pytest.raises(ScenarioError, match=f"^s.yaml: {re.escape(key)}: "):
            scenario_from_mapping(base, "s.yaml")


# --- abnormal after N seconds -------------------------------------------------------------


_ABNORMAL = """
abnormal_rules:
  - template: metrics-server
    version: 1\\.3\\.68
    cluster_labels: env=prod
    after_s: 2
"""


@pytest.mark.filterwarnings("ignore::ImportWarning")  # the SDK without python-dateutil
def test_an_addon_turns_abnormal_seconds_after_it_became_running_seen_by_the_sdk(
        tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", _ABNORMAL)
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock, rules_file=rules)
    with serve_emulator(emu) as url:
        client = sdk_client(url, emu.account)

        def metrics_server(cluster: str) -> Any:
            return next(i for i in client.list_addon_instances(
                m.ListAddonInstancesRequest(cluster_id=cluster)).items
                if i.spec.addon_template_name == "metrics-server")

        uids = {}
        for cluster in (PROD, STAGING):  # env=prod and env=staging, both to 1.3.68
            ms = metrics_server(cluster)
            uids[cluster] = ms.metadata.uid
            client.update_addon_instance(m.UpdateAddonInstanceRequest(
                id=ms.metadata.uid, body=m.InstanceRequest(
                    kind="Addon", api_version="v3",
                    metadata=m.AddonMetadata(annotations={"addon.upgrade/type": "upgrade"}),
                    spec=m.InstanceRequestSpec(cluster_id=cluster, version="1.3.68",
                                               addon_template_name="metrics-server",
                                               values=ms.spec.values))))
        clock.advance(20)  # the upgrade takes 20 s: running from now on
        shown = client.show_addon_instance(m.ShowAddonInstanceRequest(id=uids[PROD]))
        assert (shown.status.status, shown.spec.version) == ("running", "1.3.68")
        clock.advance(1.9)
        assert metrics_server(PROD).status.status == "running"
        clock.advance(0.2)
        shown = client.show_addon_instance(m.ShowAddonInstanceRequest(id=uids[PROD]))
        assert shown.status.status == "abnormal"
        assert shown.status.reason == "AddonAbnormal"
        assert "turned abnormal 2s after it became running" in shown.status.message
        assert metrics_server(PROD).status.status == "abnormal"  # the list says so too
        # The staging cluster runs the same version but is not env=prod.
        assert metrics_server(STAGING).status.status == "running"
        # Other add-ons of the prod cluster are untouched.
        others = client.list_addon_instances(m.ListAddonInstancesRequest(cluster_id=PROD)).items
        assert {i.status.status for i in others
                if i.spec.addon_template_name != "metrics-server"} == {"running"}


async def test_abnormal_respects_the_time_scale_and_restarts_after_a_repair(
        tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", _ABNORMAL.replace("after_s: 2", "after_s: 30"))
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock, rules_file=rules,
                   time_scale=10)
    async with _client(emu) as client:
        assert await _upgrade(client, await _instance(client, PROD, "metrics-server"),
                              "1.3.68") == 200
        clock.advance(2 + 2.9)  # 20 emulated s of upgrade, then 29 of running
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "running"
        clock.advance(0.2)
        inst = await _instance(client, PROD, "metrics-server")
        assert inst["status"]["status"] == "abnormal"
        # A repair (PUT of the same version) runs again: healthy until the rule's
        # time has passed once more.
        assert await _upgrade(client, inst, "1.3.68") == 200
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == (
            "upgrading")
        clock.advance(2 + 1)
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "running"
        clock.advance(2.5)
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "abnormal"


async def test_abnormal_timing_survives_a_restart_with_the_state_file(tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", _ABNORMAL)
    state = tmp_path / "emu.json"
    clock = FakeClock()
    scenario = load_scenario(demo_scenario_path())
    emu = Emulator(scenario, clock=clock, rules_file=rules, state_file=state)
    async with _client(emu) as client:
        assert await _upgrade(client, await _instance(client, PROD, "metrics-server"),
                              "1.3.68") == 200
    clock.advance(21)
    again = Emulator(scenario, clock=clock, rules_file=rules, state_file=state)
    async with _client(again) as client:
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "running"
        clock.advance(1.5)
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "abnormal"


def test_abnormal_rules_are_validated(tmp_path: Path) -> None:
    scenario = load_scenario(demo_scenario_path())
    for body, needle in (("  - template: npd\n", "abnormal_rules[0].after_s: is required"),
                         ("  - template: npd\n    after_s: -1\n", "after_s: must be >= 0"),
                         ("  - template: npd\n    after_s: 1\n    cluster: nope\n",
                          "abnormal_rules[0].cluster: no cluster with id or name 'nope'"),
                         ("  - template: npd\n    after_s: 1\n    when: x\n",
                          "abnormal_rules[0].when: unknown key")):
        path = _rules(tmp_path / "rules.yaml", "abnormal_rules:\n" + body)
        with pytest.raises(ScenarioError, match=re.escape(needle)):
            load_rules(path, scenario)


# --- lifting a rule while the emulator keeps its state --------------------------------------


async def test_editing_the_rules_file_lifts_a_rule_and_keeps_the_state(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rules = _rules(tmp_path / "rules.yaml", """
failure_rules:
  - template: everest
    operation: upgrade
    cluster_labels: env=legacy
    message: "bad everest"
""")
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock, rules_file=rules)
    async with _client(emu) as client:
        # Something else changes first: that state must survive the reload.
        assert await _upgrade(client, await _instance(client, PROD, "everest"), "2.4.28") == 200
        inst = await _instance(client, LEGACY, "everest")
        assert await _upgrade(client, inst, "2.4.28") == 200
        clock.advance(21)
        failed = await _instance(client, LEGACY, "everest")
        assert (failed["status"]["status"], failed["status"]["message"]) == (
            "upgradeFailed", "bad everest")

        # A malformed edit keeps the last good rules and says why on the log.
        with caplog.at_level(logging.WARNING, logger="reconciler.emulator.app"):
            _rules(rules, "failure_rules:\n  - template: everest\n    operation: explode\n")
            assert await _upgrade(client, failed, "2.4.28") == 200
        assert "failure_rules[0].operation: must be install or upgrade" in caplog.text
        assert "keeping the previous rules" in caplog.text
        clock.advance(21)
        assert (await _instance(client, LEGACY, "everest"))["status"]["status"] == (
            "upgradeFailed")

        # Lift it: an emptied file has no rules; the retry succeeds.
        _rules(rules, "")
        assert await _upgrade(client, failed, "2.4.28") == 200
        clock.advance(21)
        fixed = await _instance(client, LEGACY, "everest")
        assert (fixed["status"]["status"], fixed["metadata"]["uid"]) == (
            "running", failed["metadata"]["uid"])
        prod = await _instance(client, PROD, "everest")
        assert (prod["spec"]["version"], prod["status"]["previousVersion"]) == ("2.4.28", "2.4.7")
        # The scenario's own rules were kept all along.
        assert len(emu.scenario.failure_rules) == 2 and len(emu.scenario.precheck_rules) == 2


async def test_lifting_an_abnormal_rule_heals_the_addon(tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", _ABNORMAL)
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock, rules_file=rules)
    async with _client(emu) as client:
        assert await _upgrade(client, await _instance(client, PROD, "metrics-server"),
                              "1.3.68") == 200
        clock.advance(23)
        assert (await _instance(client, PROD, "metrics-server"))["status"]["status"] == "abnormal"
        _rules(rules, "abnormal_rules: []\n")
        healed = await _instance(client, PROD, "metrics-server")
        assert (healed["status"]["status"], healed["status"]["Reason"]) == ("running", "")
