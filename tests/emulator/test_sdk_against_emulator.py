"""The official SDK client, signing with AK/SK, against the emulator on a real socket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from huaweicloudsdkcce.v3 import model as m
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from tests.conftest import EmulatorServer
from tests.emulator.sdk_helpers import LEGACY, PROD, PROD_COREDNS, STAGING, sdk_client

# Without python-dateutil the SDK warns (ImportWarning) on every date field it reads.
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning")


@pytest.fixture
def client(emulator_server: EmulatorServer) -> Any:
    return sdk_client(emulator_server.url, emulator_server.emulator.account)


def _install_body(cluster: str, template: str, version: str | None,
                  values: dict[str, Any]) -> m.InstanceRequest:
    return m.InstanceRequest(
        kind="Addon", api_version="v3",
        metadata=m.AddonMetadata(annotations={"addon.install/type": "install"}),
        spec=m.InstanceRequestSpec(cluster_id=cluster, version=version,
                                   addon_template_name=template, values=values))


def _error(call: Any) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as info:
        call()
    return info.value


def test_lists_clusters_templates_and_instances(client: Any) -> None:
    clusters = client.list_clusters(m.ListClustersRequest())
    assert {c.metadata.name for c in clusters.items} == {"demo-prod", "demo-staging", "demo-legacy"}
    cluster = client.show_cluster(m.ShowClusterRequest(cluster_id=PROD))
    assert (cluster.spec.version, cluster.status.phase) == ("v1.29", "Available")
    templates = client.list_addon_templates(m.ListAddonTemplatesRequest())
    assert {"coredns", "everest", "metrics-server", "autoscaler", "npd", "volcano"} <= {
        t.metadata.name for t in templates.items}
    only = client.list_addon_templates(m.ListAddonTemplatesRequest(addon_template_name="coredns"))
    assert [t.metadata.name for t in only.items] == ["coredns"]
    instances = client.list_addon_instances(m.ListAddonInstancesRequest(cluster_id=PROD))
    coredns = next(i for i in instances.items if i.spec.addon_template_name == "coredns")
    assert coredns.status.current_version.version == "1.29.4"
    assert coredns.status.target_versions == ["1.30.33"]
    assert coredns.spec.values["flavor"]["name"] == 5000
    shown = client.show_addon_instance(m.ShowAddonInstanceRequest(id=PROD_COREDNS))
    assert shown.status.status == "running"


def test_install_precheck_upgrade_rollback_delete(
    client: Any, emulator_server: EmulatorServer
) -> None:
    clock = emulator_server.clock
    created = client.create_addon_instance(m.CreateAddonInstanceRequest(
        body=_install_body(STAGING, "npd", "1.19.9",
                           {"custom": {"npc": {"maxTaintedNode": "5%"}}})))
    assert created.status.status == "installing"
    uid = created.metadata.uid
    clock.advance(25)
    shown = client.show_addon_instance(m.ShowAddonInstanceRequest(id=uid, cluster_id=STAGING))
    assert shown.status.status == "running"
    assert shown.spec.values["custom"]["npc"] == {"maxTaintedNode": "5%"}
    assert "image_version" in shown.spec.values["basic"]  # omitted keys got template defaults

    # precheck a metrics-server upgrade on staging (no risks configured for it)
    ms = next(i for i in client.list_addon_instances(
        m.ListAddonInstancesRequest(cluster_id=STAGING)).items
        if i.spec.addon_template_name == "metrics-server")
    resp = client.batch_create_addon_precheck(m.BatchCreateAddonPrecheckRequest(
        cluster_id=STAGING, body=m.AddonCheckRequest(kind="AddonCheck", api_version="v3",
            spec=m.AddonCheckSpec(cluster_id=STAGING, addon_list=[m.AddonInfo(
                addon_template_name="metrics-server", addon_instance_id=ms.metadata.uid,
                target_version="1.3.68", type="addonUpgrade")]))))
    assert resp.status_code == 201
    raw = json.loads(resp.raw_content)
    task_id = raw["status"]["items"][0]["metadata"]["taskID"]
    clock.advance(10)
    tasks = client.list_addon_precheck_tasks(m.ListAddonPrecheckTasksRequest(
        cluster_id=STAGING, task_id=task_id))
    assert [t.status.status for t in tasks.items] == ["Success"]

    upgraded = client.update_addon_instance(m.UpdateAddonInstanceRequest(
        id=ms.metadata.uid, body=m.InstanceRequest(
            kind="Addon", api_version="v3",
            metadata=m.AddonMetadata(annotations={"addon.upgrade/type": "upgrade"}),
            spec=m.InstanceRequestSpec(cluster_id=STAGING, version="1.3.68",
                                       addon_template_name="metrics-server",
                                       values=ms.spec.values))))
    assert upgraded.status.status == "upgrading"
    clock.advance(25)
    after = client.show_addon_instance(m.ShowAddonInstanceRequest(id=ms.metadata.uid))
    assert (after.spec.version, after.status.previous_version) == ("1.3.68", "1.3.39")
    assert after.status.is_rollbackable is True

    rolled = client.rollback_addon_instance(m.RollbackAddonInstanceRequest(
        id=ms.metadata.uid, body=m.AddonInstanceRollbackRequest(cluster_id=STAGING)))
    assert rolled.status.status == "rollbacking"
    clock.advance(20)
    back = client.show_addon_instance(m.ShowAddonInstanceRequest(id=ms.metadata.uid))
    assert (back.spec.version, back.status.status) == ("1.3.39", "running")

    deleted = client.delete_addon_instance(m.DeleteAddonInstanceRequest(id=uid, cluster_id=STAGING))
    assert deleted.body == "success"
    clock.advance(15)
    gone = _error(lambda: client.show_addon_instance(m.ShowAddonInstanceRequest(id=uid)))
    assert (gone.status_code, gone.error_code) == (404, "CCE.03404001")


def test_cluster_precheck_names_add_ons_not_supporting_the_target(
    client: Any, emulator_server: EmulatorServer
) -> None:
    created = client.create_pre_check(m.CreatePreCheckRequest(
        cluster_id=PROD, body=m.PrecheckClusterRequestBody(
            api_version="v3", kind="PreCheckTask",
            spec=m.PrecheckSpec(cluster_id=PROD, cluster_version="v1.29", target_version="v1.31"))))
    task_id = created.metadata.uid
    assert created.status.phase == "Init"
    emulator_server.clock.advance(20)
    task = client.show_pre_check(m.ShowPreCheckRequest(cluster_id=PROD, task_id=task_id))
    assert task.status.phase == "Failed"
    named = {r.addon_template_name for item in task.status.addon_check_status.items_status
             for r in item.risk_source.addon_risks}
    # 1.29.4 coredns, 2.4.7 everest, 1.29.17 autoscaler and 1.19.1 npd lack v1.31 support
    assert named == {"coredns", "everest", "autoscaler", "npd"}
    listed = client.list_pre_check_tasks(m.ListPreCheckTasksRequest(cluster_id=PROD))
    assert [t.metadata.uid for t in listed.items] == [task_id]


def _sdk_error_cases(client: Any) -> list[tuple[Any, int, str]]:
    return [
        (lambda: client.create_addon_instance(m.CreateAddonInstanceRequest(
            body=_install_body(PROD, "coredns", "1.30.33", {}))), 409, "CCE.03409001"),
        (lambda: client.create_addon_instance(m.CreateAddonInstanceRequest(
            body=_install_body(PROD, "no-such-addon", None, {}))), 404, "CCE.03404001"),
        (lambda: client.create_addon_instance(m.CreateAddonInstanceRequest(
            body=_install_body(LEGACY, "volcano", "9.9.9", {}))), 400, "CCE.03400001"),
        (lambda: client.create_addon_instance(m.CreateAddonInstanceRequest(
            body=_install_body(LEGACY, "volcano", "1.15.8", {}))), 400, "CCE.03400001"),
        (lambda: client.create_addon_instance(m.CreateAddonInstanceRequest(
            body=_install_body(STAGING, "autoscaler", "1.30.15", {}))), 400, "CCE.03400001"),
        (lambda: client.update_addon_instance(m.UpdateAddonInstanceRequest(
            id="00000000-0000-0000-0000-000000000000", body=_install_body(
                PROD, "coredns", "1.30.33", {}))), 404, "CCE.03404001"),
        (lambda: client.rollback_addon_instance(m.RollbackAddonInstanceRequest(
            id=PROD_COREDNS, body=m.AddonInstanceRollbackRequest(cluster_id=PROD))),
         400, "CCE.03400001"),
        (lambda: client.show_cluster(m.ShowClusterRequest(cluster_id="nope")),
         404, "CCE.01404001"),
        (lambda: client.list_addon_precheck_tasks(m.ListAddonPrecheckTasksRequest(
            cluster_id="nope")), 404, "CCE.03404001"),
        (lambda: client.show_pre_check(m.ShowPreCheckRequest(cluster_id=PROD, task_id="nope")),
         404, "CCE.01404001"),
        (lambda: client.create_pre_check(m.CreatePreCheckRequest(
            cluster_id=PROD, body=m.PrecheckClusterRequestBody(
                api_version="v3", kind="PreCheckTask",
                spec=m.PrecheckSpec(target_version="v1.28")))), 400, "CCE.01400015"),
        (lambda: client.batch_create_addon_precheck(m.BatchCreateAddonPrecheckRequest(
            cluster_id=PROD, body=m.AddonCheckRequest(kind="AddonCheck", api_version="v3",
                spec=m.AddonCheckSpec(cluster_id=PROD, addon_list=[m.AddonInfo(
                    addon_template_name="coredns", addon_instance_id=PROD_COREDNS,
                    type="addonUpgrade")])))), 400, "CCE.03400001"),
    ]


def test_errors_raise_client_request_exception_with_code(client: Any) -> None:
    for call, status, code in _sdk_error_cases(client):
        err = _error(call)
        assert (err.status_code, err.error_code) == (status, code), err.error_msg
        assert err.request_id  # from the X-Request-Id header


def test_operation_in_progress_and_cluster_unavailable_are_refused(
    client: Any, emulator_server: EmulatorServer
) -> None:
    created = client.create_addon_instance(m.CreateAddonInstanceRequest(
        body=_install_body(LEGACY, "metrics-server", "1.3.60", {})))
    busy = _error(lambda: client.delete_addon_instance(m.DeleteAddonInstanceRequest(
        id=created.metadata.uid)))
    assert (busy.status_code, busy.error_code) == (400, "CCE.03400001")
    assert "installing" in busy.error_msg


def test_wrong_secret_key_gives_401(emulator_server: EmulatorServer) -> None:
    client = sdk_client(emulator_server.url, emulator_server.emulator.account,
                        secret_key="WRONG" * 8)
    err = _error(lambda: client.list_clusters(m.ListClustersRequest()))
    assert (err.status_code, err.error_code) == (401, "APIG.0301")


def test_wrong_project_gives_403(emulator_server: EmulatorServer) -> None:
    from dataclasses import replace

    other = replace(emulator_server.emulator.account, project_id="f" * 32)
    client = sdk_client(emulator_server.url, other)
    err = _error(lambda: client.list_clusters(m.ListClustersRequest()))
    assert (err.status_code, err.error_code) == (403, "CCE.01403001")
    err = _error(lambda: client.list_addon_instances(m.ListAddonInstancesRequest(cluster_id=PROD)))
    assert (err.status_code, err.error_code) == (403, "CCE.03403001")
