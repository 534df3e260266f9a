"""Every ``CceClient`` call puts on the wire what the official SDK client sends
for the same operation: method, URI (path and canonical query), body bytes and
Authorization. The SDK builds and signs its request with its own code
(``_*_http_info`` + ``build_future_request``); nothing is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from huaweicloudsdkcce.v3 import (
    AddonCheckRequest,
    AddonCheckSpec,
    AddonInfo,
    AddonInstanceRollbackRequest,
    AddonMetadata,
    BatchCreateAddonPrecheckRequest,
    CreateAddonInstanceRequest,
    CreatePreCheckRequest,
    DeleteAddonInstanceRequest,
    InstanceRequest,
    InstanceRequestSpec,
    ListAddonInstancesRequest,
    ListAddonPrecheckTasksRequest,
    ListAddonTemplatesRequest,
    ListClustersRequest,
    ListPreCheckTasksRequest,
    PrecheckClusterRequestBody,
    PrecheckSpec,
    RollbackAddonInstanceRequest,
    ShowAddonInstanceRequest,
    ShowClusterRequest,
    ShowPreCheckRequest,
    UpdateAddonInstanceRequest,
)
from huaweicloudsdkcce.v3 import CceClient as SdkCceClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials

from reconciler.cloud import CceClient, CloudSession, Credentials, PrecheckItem
from tests.cloud.recorder import Recorder, json_response

AK, SK = "EXAMPLEAK0000000000", "EXAMPLESK00000000000000000000000000000000"
PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"
CLUSTER = "6b400e1c-4368-11f0-ba56-0255ac100037"
INSTANCE = "8fcaa506-1c4e-11f0-9b52-0255ac10002a"
ENDPOINT = "https://cce.cn-north-4.myhuaweicloud.com"
VALUES = {"basic": {"swr_addr": "swr.example"}, "custom": {"stub_domains": {"a.b": ["1.2.3.4"]}}}

Call = Callable[[CceClient], Awaitable[Any]]


def _install_body(version: str, annotations: dict[str, str]) -> InstanceRequest:
    return InstanceRequest(
        kind="Addon",
        api_version="v3",
        metadata=AddonMetadata(annotations=annotations),
        spec=InstanceRequestSpec(
            version=version, cluster_id=CLUSTER, values=VALUES, addon_template_name="coredns"
        ),
    )


OPERATIONS: list[tuple[str, Call, str, Any]] = [
    (
        "list_templates",
        lambda c: c.list_templates(),
        "list_addon_templates",
        ListAddonTemplatesRequest(),
    ),
    (
        "list_templates_by_name",
        lambda c: c.list_templates("coredns"),
        "list_addon_templates",
        ListAddonTemplatesRequest(addon_template_name="coredns"),
    ),
    (
        "list_instances",
        lambda c: c.list_instances(CLUSTER),
        "list_addon_instances",
        ListAddonInstancesRequest(cluster_id=CLUSTER),
    ),
    (
        "get_instance",
        lambda c: c.get_instance(INSTANCE, CLUSTER),
        "show_addon_instance",
        ShowAddonInstanceRequest(id=INSTANCE, cluster_id=CLUSTER),
    ),
    (
        "install",
        lambda c: c.install(CLUSTER, "coredns", "1.25.1", VALUES),
        "create_addon_instance",
        CreateAddonInstanceRequest(body=_install_body("1.25.1", {"addon.install/type": "install"})),
    ),
    (
        "update_upgrade",
        lambda c: c.update(INSTANCE, CLUSTER, "coredns", "1.27.1", VALUES, upgrade=True),
        "update_addon_instance",
        UpdateAddonInstanceRequest(
            id=INSTANCE, body=_install_body("1.27.1", {"addon.upgrade/type": "upgrade"})
        ),
    ),
    (
        "delete",
        lambda c: c.delete(INSTANCE, CLUSTER),
        "delete_addon_instance",
        DeleteAddonInstanceRequest(id=INSTANCE, cluster_id=CLUSTER),
    ),
    (
        "rollback",
        lambda c: c.rollback(INSTANCE, CLUSTER),
        "rollback_addon_instance",
        RollbackAddonInstanceRequest(
            id=INSTANCE, body=AddonInstanceRollbackRequest(cluster_id=CLUSTER)
        ),
    ),
    (
        "get_cluster",
        lambda c: c.get_cluster(CLUSTER),
        "show_cluster",
        ShowClusterRequest(cluster_id=CLUSTER),
    ),
    ("list_clusters", lambda c: c.list_clusters(), "list_clusters", ListClustersRequest()),
    (
        "create_addon_precheck",
        lambda c: c.create_addon_precheck(
            CLUSTER, [PrecheckItem("coredns", INSTANCE, target_version="1.27.1", values=VALUES)]
        ),
        "batch_create_addon_precheck",
        BatchCreateAddonPrecheckRequest(
            cluster_id=CLUSTER,
            body=AddonCheckRequest(
                kind="AddonCheck",
                api_version="v3",
                spec=AddonCheckSpec(
                    cluster_id=CLUSTER,
                    addon_list=[
                        AddonInfo(
                            addon_template_name="coredns",
                            addon_instance_id=INSTANCE,
                            target_version="1.27.1",
                            type="addonUpgrade",
                            values=VALUES,
                        )
                    ],
                ),
            ),
        ),
    ),
    (
        "list_addon_precheck_tasks",
        lambda c: c.list_addon_precheck_tasks(
            CLUSTER, type="addonUpgrade", task_id="t-1", instance_id=INSTANCE
        ),
        "list_addon_precheck_tasks",
        ListAddonPrecheckTasksRequest(
            cluster_id=CLUSTER, type="addonUpgrade", task_id="t-1", addon_instance_id=INSTANCE
        ),
    ),
    (
        "create_cluster_precheck",
        lambda c: c.create_cluster_precheck(CLUSTER, "v1.29", "v1.28.3-r0"),
        "create_pre_check",
        CreatePreCheckRequest(
            cluster_id=CLUSTER,
            body=PrecheckClusterRequestBody(
                api_version="v3",
                kind="PreCheckTask",
                spec=PrecheckSpec(
                    cluster_id=CLUSTER, cluster_version="v1.28.3-r0", target_version="v1.29"
                ),
            ),
        ),
    ),
    (
        "list_cluster_precheck_tasks",
        lambda c: c.list_cluster_precheck_tasks(CLUSTER),
        "list_pre_check_tasks",
        ListPreCheckTasksRequest(cluster_id=CLUSTER),
    ),
    (
        "get_cluster_precheck",
        lambda c: c.get_cluster_precheck(CLUSTER, "task-1"),
        "show_pre_check",
        ShowPreCheckRequest(cluster_id=CLUSTER, task_id="task-1"),
    ),
]


def _sdk_request(operation: str, request: Any, wire: httpx.Request) -> Any:
    sdk = (
        SdkCceClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([ENDPOINT])
        .build()
    )
    # same clock and agent as ours, so only request construction can differ
    sdk.preset_headers = {
        "X-Sdk-Date": wire.headers["X-Sdk-Date"],
        "User-Agent": wire.headers["User-Agent"],
    }
    info = getattr(sdk, f"_{operation}_http_info")(request)
    return sdk.build_future_request(
        info["method"],
        info["resource_path"],
        info["path_params"],
        info["query_params"],
        info["header_params"],
        info["body"],
        info["post_params"],
        info["cname"],
        info.get("response_type"),
        info["collection_formats"],
        None,
    ).result()


@pytest.mark.parametrize(
    ("name", "call", "operation", "request_model"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
async def test_every_call_matches_the_sdk_on_the_wire(
    name: str, call: Call, operation: str, request_model: Any
) -> None:
    recorder = Recorder([json_response(200, {})])
    credentials = Credentials(access_key=AK, secret_key=SK)
    async with CloudSession(credentials=credentials, transport=recorder.transport) as session:
        await call(session.client(ENDPOINT, "cn-north-4", PROJECT))
    (wire,) = recorder.requests
    sdk = _sdk_request(operation, request_model, wire)

    assert wire.method == sdk.method
    assert wire.url.raw_path.decode() == sdk.uri
    assert wire.content == (sdk.body or b"")
    assert wire.headers["Authorization"] == sdk.header_params["Authorization"]


def test_every_client_method_is_compared() -> None:
    public = {m for m in vars(CceClient) if not m.startswith("_")} - {"project_id", "find_instance"}
    compared = {name.removesuffix("_by_name").removesuffix("_upgrade") for name, *_ in OPERATIONS}
    assert public == compared
