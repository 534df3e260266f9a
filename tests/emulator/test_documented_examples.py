"""The request examples of the original API pages are accepted, and responses carry
every key of the documented response examples (fixtures copied from the pages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import Emulator, demo_scenario_path, load_scenario
from tests.conftest import FakeClock
from tests.emulator.sdk_helpers import LEGACY

FIXTURES = Path(__file__).parent / "fixtures"
P = "/api/v3/projects/0504201b6c80256b2f08c0099f0c8fe4/clusters"


def _keys(doc: Any, got: Any, path: str = "") -> list[str]:
    """Documented key paths missing from ``got`` (dict keys; first list item)."""
    missing: list[str] = []
    if isinstance(doc, dict):
        if not isinstance(got, dict):
            return [path or "(root)"]
        for key, value in doc.items():
            if key not in got:
                missing.append(f"{path}.{key}")
            elif key not in ("values", "input", "translate", "riskSource"):
                missing += _keys(value, got[key], f"{path}.{key}")
    elif isinstance(doc, list) and doc and isinstance(got, list) and got:
        missing += _keys(doc[0], got[0], f"{path}[0]")
    return missing


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


async def test_create_example_is_accepted_and_response_has_documented_shape() -> None:
    clock = FakeClock()
    emu = Emulator(load_scenario(demo_scenario_path()), clock=clock)
    request = _load("create_addon_instance_request.json")
    # The page installs coredns 1.17.15 on its own cluster; point it at the demo.
    request["spec"].update(clusterID=LEGACY, addonTemplateName="volcano", version="1.12.9")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app),
                                 base_url="http://cce.example",
                                 headers={"X-Auth-Token": emu.account.token}) as client:
        r = await client.post("/api/v3/addons", json=request)
        assert r.status_code == 201
        documented = _load("create_addon_instance_response.json")
        documented["status"]["currentVersion"].pop("supportVersions")  # null on the page
        assert _keys(documented, r.json()) == []
        assert r.json()["spec"]["values"]["basic"]["rbac_enabled"] is True  # sent value kept

        r = await client.post(f"{P}/{LEGACY}/operation/precheck",
                              json={"apiVersion": "v3", "kind": "PreCheckTask",
                                    "spec": {"clusterVersion": "v1.28", "targetVersion": "v1.29"}})
        assert r.status_code == 200
        clock.advance(60)
        task = (await client.get(f"{P}/{LEGACY}/operation/precheck/tasks/"
                                 f"{r.json()['metadata']['uid']}")).json()
        assert _keys(_load("show_cluster_precheck_task_response.json"), task) == []
