"""Lifecycles, prechecks, faults, auth and persistence, in-process via httpx.ASGITransport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator import (
    DroppedConnection,
    Emulator,
    Faults,
    demo_scenario_path,
    load_scenario,
)
from tests.conftest import FakeClock
from tests.emulator.sdk_helpers import LEGACY, PROD, PROD_COREDNS, STAGING

PID = "0504201b6c80256b2f08c0099f0c8fe4"
P = f"/api/v3/projects/{PID}/clusters"


def _emulator(clock: FakeClock, **kwargs: Any) -> Emulator:
    return Emulator(load_scenario(demo_scenario_path()), clock=clock, **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, Emulator]]:
    emu = _emulator(clock)
    async with _client(emu) as client:
        yield client, emu


def _client(emu: Emulator, host: str = "cce.ap-southeast-1.myhuaweicloud.com") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app),
        base_url=f"http://{host}",
        headers={"X-Auth-Token": emu.account.token},
    )


def _install(cluster: str, template: str, version: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Addon",
        "apiVersion": "v3",
        "metadata": {"annotations": {"addon.install/type": "install"}},
        "spec": {
            "clusterID": cluster,
            "version": version,
            "addonTemplateName": template,
            "values": values,
        },
    }


async def test_failure_rule_makes_install_and_upgrade_fail(
    api: tuple[httpx.AsyncClient, Emulator], clock: FakeClock
) -> None:
    client, _ = api
    r = await client.post("/api/v3/addons", json=_install(LEGACY, "nginx-ingress", "3.0.8", {}))
    assert r.status_code == 201
    uid = r.json()["metadata"]["uid"]
    clock.advance(19)
    assert (await client.get(f"/api/v3/addons/{uid}")).json()["status"]["status"] == "installing"
    clock.advance(2)
    status = (await client.get(f"/api/v3/addons/{uid}")).json()["status"]
    assert (status["status"], status["Reason"]) == ("installFailed", "InstallFailed")
    assert "admission webhook" in status["message"]

    r = await client.post("/api/v3/addons", json=_install(STAGING, "nginx-ingress", "2.6.5", {}))
    uid = r.json()["metadata"]["uid"]
    clock.advance(21)
    r = await client.put(
        f"/api/v3/addons/{uid}", json=_install(STAGING, "nginx-ingress", "3.0.8", {})
    )
    assert r.status_code == 200
    clock.advance(21)
    status = (await client.get(f"/api/v3/addons/{uid}")).json()["status"]
    assert status["status"] == "running"  # the rule is for demo-legacy only


async def test_addon_precheck_phases_and_demo_coredns_risks(
    api: tuple[httpx.AsyncClient, Emulator], clock: FakeClock
) -> None:
    client, _ = api
    body = {
        "kind": "AddonCheck",
        "apiVersion": "v3",
        "spec": {
            "clusterID": PROD,
            "addonList": [
                {
                    "addonTemplateName": "coredns",
                    "addonInstanceID": PROD_COREDNS,
                    "targetVersion": "1.30.33",
                    "type": "addonUpgrade",
                }
            ],
        },
    }
    r = await client.post(f"{P}/{PROD}/addons/precheck", json=body)
    assert r.status_code == 201
    item = r.json()["status"]["items"][0]
    assert item["status"]["status"] == "Init" and "expireTimeStamp" not in item["metadata"]
    assert r.json()["spec"]["addonList"][0]["values"]["flavor"]["name"] == 5000  # filled
    task_id = item["metadata"]["taskID"]
    url = f"{P}/{PROD}/addons/precheck/tasks"
    clock.advance(3)
    task = (await client.get(url, params={"task_id": task_id})).json()["items"][0]
    assert task["status"]["status"] == "Running"
    assert {r["status"] for r in task["status"]["riskList"]} == {"Running"}
    clock.advance(6)
    task = (await client.get(url, params={"task_id": task_id})).json()["items"][0]
    assert task["status"]["status"] == "Failed" and "expireTimeStamp" in task["metadata"]
    risks = {r["riskName"]: r for r in task["status"]["riskList"]}
    assert (risks["AddonValidate"]["status"], risks["AddonValidate"]["level"]) == (
        "Failed",
        "Fatal",
    )
    assert "configmap coredns had been modified" in risks["AddonValidate"]["message"]
    assert (risks["K8sResourceModified"]["status"], risks["AddonStatus"]["status"]) == (
        "Failed",
        "Success",
    )
    other = (await client.get(url, params={"addon_instance_id": "x"})).json()
    assert other["items"] == [] and other["pageInfo"] == {"currentCount": 0}
    # addonStatic: no AddonValidate rule for it
    body["spec"]["addonList"][0]["type"] = "addonStatic"
    r = await client.post(f"{P}/{PROD}/addons/precheck", json=body)
    clock.advance(9)
    task = (await client.get(url, params={"type": "addonStatic"})).json()["items"][0]
    risks = {r["riskName"]: r["status"] for r in task["status"]["riskList"]}
    assert risks == {
        "K8sResourceModified": "Failed",
        "AddonValidate": "Success",
        "AddonStatus": "Success",
    }


async def test_instance_not_running_fails_addon_status(
    api: tuple[httpx.AsyncClient, Emulator], clock: FakeClock
) -> None:
    client, _ = api
    r = await client.post("/api/v3/addons", json=_install(LEGACY, "nginx-ingress", "3.0.8", {}))
    uid = r.json()["metadata"]["uid"]
    clock.advance(30)
    body = {
        "kind": "AddonCheck",
        "apiVersion": "v3",
        "spec": {
            "clusterID": LEGACY,
            "addonList": [
                {
                    "addonTemplateName": "nginx-ingress",
                    "addonInstanceID": uid,
                    "type": "addonStatic",
                }
            ],
        },
    }
    await client.post(f"{P}/{LEGACY}/addons/precheck", json=body)
    clock.advance(10)
    task = (await client.get(f"{P}/{LEGACY}/addons/precheck/tasks")).json()["items"][0]
    risk = next(r for r in task["status"]["riskList"] if r["riskName"] == "AddonStatus")
    assert (risk["status"], risk["level"]) == ("Failed", "Warning")
    assert risk["message"] == "addon status(installFailed) is not running"


async def test_both_host_forms_and_error_shape(api: tuple[httpx.AsyncClient, Emulator]) -> None:
    _, emu = api
    async with _client(emu, host=f"{PROD}.cce.ap-southeast-1.myhuaweicloud.com") as client:
        r = await client.get("/api/v3/addons", params={"cluster_id": PROD})
        assert r.status_code == 200 and len(r.json()["items"]) == 5
        r = await client.post("/api/v3/addons", json=_install(STAGING, "autoscaler", "1.30.15", {}))
    body = r.json()
    assert r.status_code == 400 and r.headers["x-request-id"]
    assert body["errorCode"] == "CCE.03400001" and body["errorMessage"] == "Invalid request."
    assert body["error"] == {
        "message": "custom values are not defined",
        "code": "SVCSTG.CCE-ADDONMGR.4000002",
    }
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        400,
        "BadRequest",
    )


async def test_missing_fields_and_cluster_not_available(clock: FakeClock) -> None:
    from dataclasses import replace

    scenario = load_scenario(demo_scenario_path())
    down = replace(scenario.clusters[2], phase="Unavailable")
    emu = Emulator(replace(scenario, clusters=(*scenario.clusters[:2], down)), clock=clock)
    async with _client(emu) as client:
        r = await client.post("/api/v3/addons", json=_install(LEGACY, "volcano", "1.13.3", {}))
        assert r.status_code == 400 and "not Available" in r.json()["message"]
        body = _install(PROD, "volcano", "1.13.3", {})
        del body["spec"]["clusterID"]
        r = await client.post("/api/v3/addons", json=body)
        assert r.status_code == 400 and r.json()["message"] == "spec.clusterID is required"
        r = await client.post("/api/v3/addons", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"]["code"] == "SVCSTG.CCE-ADDONMGR.4000003"
        r = await client.get("/api/v3/addons")
        assert r.status_code == 400


async def test_token_and_wrong_token(api: tuple[httpx.AsyncClient, Emulator]) -> None:
    client, _ = api
    r = await client.get(f"{P}", headers={"X-Auth-Token": "nope"})
    assert r.status_code == 401 and r.json()["error_code"] == "APIG.0301"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    r = await client.get(f"{P}", headers={"X-Auth-Token": ""})
    assert r.status_code == 401


async def test_signature_with_skewed_date_is_refused(clock: FakeClock) -> None:
    from reconciler.kit.signing import authorization_header

    emu = _emulator(clock)
    acc = emu.account

    async def call(sdk_date: str) -> int:
        headers = {
            "Content-Type": "application/json",
            "Host": "cce.example",
            "X-Sdk-Date": sdk_date,
            "X-Project-Id": acc.project_id,
        }
        headers["Authorization"] = authorization_header(
            acc.access_key, acc.secret_key, "GET", f"{P}/{PROD}", [], headers, b""
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app), base_url="http://cce.example"
        ) as client:
            return (await client.get(f"{P}/{PROD}", headers=headers)).status_code

    fmt = "%Y%m%dT%H%M%SZ"
    assert await call(time.strftime(fmt, time.gmtime())) == 200
    assert await call(time.strftime(fmt, time.gmtime(time.time() - 3600))) == 401


async def test_faults(clock: FakeClock) -> None:
    faults = Faults()
    emu = _emulator(clock, faults=faults)
    async with _client(emu) as client:
        faults.throttle_rate, faults.retry_after_s = 1.0, 7
        r = await client.get(P)
        assert (r.status_code, r.headers["retry-after"], r.json()["error_code"]) == (
            429,
            "7",
            "APIG.0308",
        )
        faults.throttle_rate, faults.error_rate = 0.0, 1.0
        r = await client.get(P)
        assert (r.status_code, r.json()["errorCode"]) == (500, "CCE.03500001")
        faults.error_rate, faults.rate_limit_per_s = 0.0, 2.0
        codes = [(await client.get(P)).status_code for _ in range(5)]
        assert codes[:2] == [200, 200] and 429 in codes
        faults.rate_limit_per_s, faults.drop_rate = None, 1.0
        # The app cuts the response and raises; mapping that to a dropped socket
        # is the client's business (cloud.transport.InProcessTransport).
        with pytest.raises(DroppedConnection):
            await client.get(P)
        assert not issubclass(DroppedConnection, httpx.HTTPError)
        faults.drop_rate, faults.latency_ms = 0.0, 100
        start = time.monotonic()
        results = await asyncio.gather(*(client.get(P) for _ in range(20)))
        elapsed = time.monotonic() - start
    assert all(r.status_code == 200 for r in results)
    assert 0.1 <= elapsed < 1.0  # concurrent sleeps: no lock held across the latency
    assert emu.request_count == 1 + 1 + 5 + 1 + 20


async def test_state_file_survives_restart(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "emu.json"
    emu = _emulator(clock, state_file=state)
    async with _client(emu) as client:
        r = await client.post("/api/v3/addons", json=_install(LEGACY, "volcano", "1.12.9", {}))
        uid = r.json()["metadata"]["uid"]
        await client.delete("/api/v3/addons/b418c6ba-4368-11f0-ba56-0255ac100037")
    assert state.exists()
    clock.advance(25)
    again = _emulator(clock, state_file=state)
    async with _client(again) as client:
        items = (await client.get("/api/v3/addons", params={"cluster_id": LEGACY})).json()["items"]
    by_name = {i["spec"]["addonTemplateName"]: i for i in items}
    assert by_name["volcano"]["metadata"]["uid"] == uid
    assert by_name["volcano"]["status"]["status"] == "running"
    assert "npd" not in by_name  # its delete finished while "down"


async def test_time_scale_speeds_up_lifecycles(clock: FakeClock) -> None:
    emu = _emulator(clock, time_scale=10)
    async with _client(emu) as client:
        r = await client.post("/api/v3/addons", json=_install(LEGACY, "volcano", "1.12.9", {}))
        uid = r.json()["metadata"]["uid"]
        clock.advance(2.1)  # 21 emulated seconds > install_s 20
        assert (await client.get(f"/api/v3/addons/{uid}")).json()["status"]["status"] == "running"
