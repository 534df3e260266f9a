"""Server prechecks and waits: timeouts block, polling stays at most once per
interval per task and per instance, readiness checks are reused."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cloud import CloudSession
from reconciler.emulator import Emulator
from reconciler.model.desired import AddonSpec
from reconciler.model.plan import PrecheckFinding
from reconciler.run.prechecks import (
    blocked_addons,
    parse_accept_risks,
    run_readiness_check,
)
from reconciler.statemgr.local import LocalBackend

from .apply_helpers import (
    FAST_RETRY,
    MAIN_ID,
    POLL_S,
    DesiredFiles,
    credentials,
    new_emulator,
    plan_and_apply,
    session_for,
)

UPGRADE_COREDNS = {
    "coredns": {"version": "1.30.33", "precheck": {"accept": ["K8sResourceModified"]}},
    "metrics-server": {"version": "1.3.68"},
}


class RecordingApp:
    """The emulator's ASGI app, noting (time, method, path, query) of each request."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.seen: list[tuple[float, str, str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((time.monotonic(), scope["method"], scope["path"],
                              scope.get("query_string", b"").decode()))
        await self.emu.app(scope, receive, send)


async def test_a_precheck_that_never_finishes_blocks(tmp_path: Path, desired: DesiredFiles) -> None:
    # Emulated time barely moves: the precheck task stays in Init/Running.
    emu = new_emulator(time_scale=0.001)
    store = LocalBackend(tmp_path / "state")
    path = desired(UPGRADE_COREDNS)
    async with session_for(emu) as session:
        _, result, _log = await plan_and_apply(session, store, path, precheck_timeout_s=0.4)
    messages = {r.addon: (r.outcome.value, r.message) for c in result.clusters for r in c.addons}
    assert messages["coredns"][0] == "blocked"
    assert "PrecheckTimeout" in messages["coredns"][1]
    assert "did not finish within 0.4s" in messages["coredns"][1]
    assert messages["metrics-server"][0] == "blocked"
    assert not result.ok


async def test_polling_is_at_most_once_per_interval_per_task_and_instance(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator(time_scale=10)
    app = RecordingApp(emu)
    store = LocalBackend(tmp_path / "state")
    path = desired(UPGRADE_COREDNS)
    async with CloudSession(credentials=credentials(emu), retry=FAST_RETRY,
                            transport=httpx.ASGITransport(app=app)) as session:
        _, result, log = await plan_and_apply(session, store, path)
    assert result.ok, log
    per_target: dict[str, list[float]] = defaultdict(list)
    for at, method, url_path, query in app.seen:
        if method == "GET" and "/addons/precheck/tasks" in url_path:
            per_target[query].append(at)
        elif method == "GET" and url_path.startswith("/api/v3/addons/"):
            per_target[url_path].append(at)
    polled = {k: v for k, v in per_target.items() if len(v) > 1}
    assert polled, "expected repeated polls of tasks and instances"
    for target, times in polled.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= POLL_S * 0.9, (target, gaps)


async def test_readiness_check_is_created_once_then_reused(tmp_path: Path) -> None:
    emu = new_emulator(time_scale=20)
    app = RecordingApp(emu)
    async with CloudSession(credentials=credentials(emu), retry=FAST_RETRY,
                            transport=httpx.ASGITransport(app=app)) as session:
        client = session.client("https://cce.ap-southeast-1.myhuaweicloud.com",
                                "ap-southeast-1", emu.account.project_id)
        cluster = await client.get_cluster(MAIN_ID)
        templates = {t.name: t for t in await client.list_templates()}
        declared = [AddonSpec(name="coredns", version="1.29.4"),
                    AddonSpec(name="metrics-server", version="1.3.68")]
        first = await run_readiness_check(client, cluster, "v1.30", declared, templates,
                                          poll_interval_s=0.05)
        second = await run_readiness_check(client, cluster, "v1.30", declared, templates,
                                           poll_interval_s=0.05)
    assert first.phase in ("Success", "Failed") and first.task_id
    assert second.task_id == first.task_id
    creates = [s for s in app.seen if s[1] == "POST" and s[2].endswith("/operation/precheck")]
    assert len(creates) == 1
    # Neither declared version supports Kubernetes v1.30 in the test scenario.
    assert first.unsupported_addons == ("coredns@1.29.4", "metrics-server@1.3.68")


def finding(level: str, accepted: bool, status: str = "Failed") -> PrecheckFinding:
    return PrecheckFinding(addon=f"{level}-{accepted}-{status}", risk="R", level=level,
                           status=status, accepted=accepted)


def test_risk_policy() -> None:
    findings = [finding("Fatal", True), finding("Warning", False), finding("Warning", True),
                finding("Fatal", False, status="Success")]
    assert blocked_addons(findings) == {"Fatal-True-Failed", "Warning-False-Failed"}


def test_accept_risk_parsing() -> None:
    assert parse_accept_risks(["a/coredns:X", "a/coredns:Y", "b/npd:Z"]) == {
        "a": {"coredns": {"X", "Y"}}, "b": {"npd": {"Z"}}
    }
    with pytest.raises(ValueError, match="CLUSTER/ADDON:RiskName"):
        parse_accept_risks(["coredns:X"])


async def test_plan_time_precheck_findings_are_shown(tmp_path: Path, desired: DesiredFiles) -> None:
    """``plan --precheck`` attaches the findings this module computes."""
    from reconciler.config import load_desired
    from reconciler.run.plan import make_plan

    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    path = desired({**UPGRADE_COREDNS,
                    "coredns": {"version": "1.30.33", "precheck": {"accept": []}}})
    async with session_for(emu) as session:
        planned = await make_plan(load_desired([path]), session, store, precheck=True)
    coredns = next(c for c in planned.plan.clusters[0].changes if c.addon == "coredns")
    assert [(f.risk, f.level, f.status, f.blocking) for f in coredns.findings] == [
        ("K8sResourceModified", "Warning", "Failed", True)
    ]
