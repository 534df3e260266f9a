"""Reading the documented response examples, and the ways they disagree.

Fixtures under ``fixtures/`` are the example responses of the API pages
(of the CCE API reference, summarised in docs/cce-api.md), verbatim; they go
through the real client over an ``httpx.MockTransport``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from reconciler.cloud import CloudSession, Credentials, PrecheckItem
from reconciler.cloud.wire import parse_addon_task, parse_instance, parse_template
from tests.cloud.recorder import Recorder, json_response

FIXTURES = Path(__file__).parent / "fixtures"
CLUSTER = "6b400e1c-4368-11f0-ba56-0255ac100037"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


async def _through_client(body: Any, call: Any) -> Any:
    recorder = Recorder([json_response(200, body)])
    credentials = Credentials(access_key="ak", secret_key="sk")
    async with CloudSession(credentials=credentials, transport=recorder.transport) as session:
        return await call(session.client("https://cce.example", "r", "p"))


async def test_list_precheck_tasks_doc_example_items_object_and_risks_beside_status() -> None:
    tasks = await _through_client(
        fixture("list_addon_precheck_tasks_doc_example.json"),
        lambda c: c.list_addon_precheck_tasks(CLUSTER),
    )
    (task,) = tasks
    assert task.task_id == "8ca259cc-553b-11e9-926f-0255ac101a31"
    assert task.template_name == "coredns"
    assert task.instance_id == "1d43577d-4b50-4723-b05b-2121f47cb219"
    assert task.target_version == "3.0.4"
    assert task.status == "Failed" and task.finished
    assert task.created_at == "2025-08-05T17:10:44.648388+08:00"  # from createTimestamp
    assert [(r.name, r.level, r.status) for r in task.risks] == [
        ("AddonStatus", "Warning", "Failed"),
        ("AddonValidate", "Fatal", "Failed"),
    ]
    assert "configmap coredns had been modified" in task.risks[1].message


def test_table_form_of_the_same_task_reads_the_same() -> None:
    """The table's form: ``items`` an array, ``createTimeStamp``, ``riskList`` in ``status``."""
    doc = fixture("list_addon_precheck_tasks_doc_example.json")["items"]
    table = copy.deepcopy(doc)
    table["metadata"]["createTimeStamp"] = table["metadata"].pop("createTimestamp")
    table["status"]["riskList"] = table.pop("riskList")
    assert parse_addon_task(table) == parse_addon_task(doc)


async def test_batch_create_precheck_reads_status_items() -> None:
    tasks = await _through_client(
        fixture("batch_create_addon_precheck_201.json"),
        lambda c: c.create_addon_precheck(
            CLUSTER,
            [
                PrecheckItem(
                    "coredns", "8fcaa506-809d-4f33-91b3-b27efcbeb540", target_version="1.27.1"
                )
            ],
        ),
    )
    (task,) = tasks
    assert task.task_id == "22386048-d955-4409-bc71-20cc2b774245"
    assert task.status == "Init" and not task.finished
    assert task.created_at == "2025-08-13T11:24:37.312017086+08:00"
    assert [r.name for r in task.risks] == ["K8sResourceModified", "AddonValidate", "AddonStatus"]


async def test_create_instance_example_with_null_target_versions() -> None:
    instance = await _through_client(
        fixture("create_addon_instance_response.json"),
        lambda c: c.install(CLUSTER, "coredns", "1.25.1", {}),
    )
    raw = fixture("create_addon_instance_response.json")
    assert instance.uid == raw["metadata"]["uid"]
    assert instance.template_name == raw["spec"]["addonTemplateName"]
    assert instance.version == raw["spec"]["version"]
    assert instance.status.status == raw["status"]["status"]
    assert instance.status.target_versions is None
    assert instance.status.current_version == raw["status"]["currentVersion"]["version"]
    assert instance.values == raw["spec"]["values"]


def test_instance_reason_capital_r_and_lowercase_and_extra_fields() -> None:
    base = {
        "metadata": {"uid": "u1", "name": "coredns", "unknownMeta": 1},
        "spec": {"clusterID": "c", "version": "1.0", "addonTemplateName": "coredns", "values": {}},
        "status": {
            "status": "upgradeFailed",
            "Reason": "ImagePullBackOff",
            "targetVersions": ["1.1", "1.2"],
            "isRollbackable": True,
            "previousVersion": "0.9",
            "somethingNew": {"x": 1},
        },
        "extraTopLevel": [1, 2],
    }
    instance = parse_instance(base)
    assert instance.status.reason == "ImagePullBackOff"
    assert instance.status.target_versions == ("1.1", "1.2")
    assert instance.status.is_rollbackable and instance.status.previous_version == "0.9"
    lower = copy.deepcopy(base)
    lower["status"]["reason"] = lower["status"].pop("Reason")
    assert parse_instance(lower).status.reason == "ImagePullBackOff"


async def test_cluster_precheck_example() -> None:
    raw = fixture("show_cluster_precheck_task.json")
    task = await _through_client(
        raw, lambda c: c.get_cluster_precheck(CLUSTER, raw["metadata"]["uid"])
    )
    assert task.uid == "f61e008c-1600-41c0-9bde-121de5a30660"
    assert task.phase == "Success" and task.finished
    assert task.target_version == "v1.23.5-r0"
    assert task.expires_at == raw["status"]["expireTimeStamp"]
    assert [i.name for i in task.addon_check.items] == [
        i["name"] for i in raw["status"]["addonCheckStatus"]["itemsStatus"]
    ]
    assert task.cluster_check.items[2].kind == "Exception"
    assert task.node_check.phase == "Success"


def test_cluster_precheck_node_stages_and_addon_risk_sources() -> None:
    from reconciler.cloud.wire import parse_cluster_task

    item = {
        "name": "AddonRisk",
        "kind": "Risk",
        "level": "Warning",
        "phase": "Failed",
        "riskSource": {"addonRisks": [{"addonTemplateName": "coredns", "alias": "CoreDNS"}]},
        "errorCodes": ["E1"],
    }
    node_item = {"name": "NodeDisk", "phase": "Failed"}
    task = parse_cluster_task(
        {
            "metadata": {"uid": "t"},
            "status": {
                "phase": "Failed",
                "addonCheckStatus": {"phase": "Failed", "itemsStatus": [item]},
                "nodeCheckStatus": {
                    "phase": "Failed",
                    "nodeStageStatus": [{"nodeInfo": {"uid": "n1"}, "itemsStatus": [node_item]}],
                },
            },
        }
    )
    assert task.addon_check.items[0].addon_risks == ("coredns",)
    assert task.addon_check.items[0].error_codes == ("E1",)
    assert [i.name for i in task.node_check.items] == ["NodeDisk"]


def test_template_versions_flavors_and_support_versions() -> None:
    template = parse_template(
        {
            "metadata": {"name": "coredns", "alias": "CoreDNS"},
            "spec": {
                "type": "helm",
                "require": True,
                "labels": ["ServiceDiscovery"],
                "versions": [
                    {
                        "version": "1.15.3",
                        "input": {
                            "basic": {"cluster_ip": "10.247.3.10"},
                            "parameters": {
                                "custom": {"stub_domains": ""},
                                "flavor1": {"name": 2500, "replicas": 2},
                                "flavor2": {"name": 5000, "replicas": 2},
                            },
                        },
                        "stable": True,
                        "supportVersions": [
                            {"clusterType": "VirtualMachine", "clusterVersion": ["v1.15.*"]}
                        ],
                        "translate": {"en_US": {}},
                    }
                ],
            },
        }
    )
    version = template.version("1.15.3")
    assert version is not None
    assert list(version.flavors) == ["2500", "5000"]
    assert version.custom == {"stub_domains": ""}
    assert version.supports("VirtualMachine", "CCE", "v1.15.11")
    assert not version.supports("VirtualMachine", "CCE", "v1.28")
    assert template.require and template.labels == ("ServiceDiscovery",)


async def test_list_instances_accepts_missing_or_null_items() -> None:
    assert await _through_client({"kind": "Addon"}, lambda c: c.list_instances(CLUSTER)) == []
    assert await _through_client({"items": None}, lambda c: c.list_instances(CLUSTER)) == []


def test_cluster_labels_from_metadata_keep_only_strings() -> None:
    from reconciler.cloud.wire import parse_cluster

    cluster = parse_cluster({"metadata": {"uid": "u", "name": "n", "labels": {
        "env": "prod", "FeatureGates": "elbv3,", "count": 3}}, "spec": {}, "status": {}})
    assert dict(cluster.labels) == {"env": "prod", "FeatureGates": "elbv3,"}
    assert parse_cluster({"metadata": {"labels": ["x"]}}).labels == {}
    assert parse_cluster({"metadata": {}}).labels == {}
