"""``reconciler apply`` / ``import`` as a user runs them: a real process, the
emulator on a real socket, real state files and locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders.desired import cluster
from conftest import serve_emulator

from reconciler.emulator import Emulator
from reconciler.planfile import save_plan
from reconciler.statemgr import Journal
from reconciler.statemgr.local import LocalBackend

from .apply_helpers import FATAL_ID, MAIN_ID, DesiredFiles, new_emulator

FAST = ["--poll-interval", "0.05"]


@dataclass
class Cloud:
    url: str
    emulator: Emulator
    env: dict[str, str]


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    emu = new_emulator()
    env = {**os.environ, "HW_ACCESS_KEY": emu.account.access_key,
           "HW_SECRET_KEY": emu.account.secret_key, "NO_COLOR": "1"}
    env.pop("HW_AUTH_TOKEN", None)
    with serve_emulator(emu) as url:
        yield Cloud(url, emu, env)


def run(cloud: Cloud, tmp_path: Path, *args: str, stdin: str = "",
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "--state-dir", str(tmp_path / "state")],
        input=stdin, capture_output=True, text=True, env=env or cloud.env, cwd=tmp_path,
        timeout=60,
    )


def apply(cloud: Cloud, tmp_path: Path, *args: str, stdin: str = "",
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(cloud, tmp_path, "apply", *args, "--endpoint", cloud.url, *FAST,
               stdin=stdin, env=env)


MAIN = {"metrics-server": {"version": "1.3.68"}, "volcano": {"version": "1.15.8"}}


def test_apply_asks_and_only_yes_applies(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    path = desired(MAIN)
    refused = apply(cloud, tmp_path, str(path), stdin="no\n")
    assert refused.returncode == 1
    assert "Apply cancelled" in refused.stderr
    assert "Plan: 1 to install, 1 to upgrade" in refused.stdout
    assert not (tmp_path / "state" / "t-main.json").exists()

    done = apply(cloud, tmp_path, str(path), stdin="yes\n")
    assert done.returncode == 0, done.stderr
    # The upgrade of the unmanaged metrics-server also adopts it (issue 11, path 5).
    assert "Apply complete: 1 installed, 1 upgraded (1 adopting), 0 updated, 0 deleted," \
        " 0 adopted; 0 blocked, 0 failed." in done.stdout
    # Plain progress lines on stderr when it isn't a terminal.
    assert "t-main: volcano: install 1.15.8: installed" in done.stderr
    state = LocalBackend(tmp_path / "state").read("t-main")
    assert state is not None and set(state.addons) == {"metrics-server", "volcano"}


def test_blocked_addon_exits_1_and_says_why(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    path = desired(clusters={"t-fatal": cluster(FATAL_ID, {
        "coredns": {"version": "1.30.33"},
        "metrics-server": {"version": "1.3.68"},
    })})
    result = apply(cloud, tmp_path, str(path), "--auto-approve",
                   "--accept-risk", "t-fatal/coredns:AddonValidate")
    assert result.returncode == 1
    assert ("t-fatal/coredns: upgrade blocked: precheck: AddonValidate (Fatal: cannot be"
            " accepted)") in result.stdout
    assert "1 upgraded" in result.stdout and "1 blocked" in result.stdout


def test_json_format_prints_one_result_document(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    path = desired(MAIN)
    result = apply(cloud, tmp_path, str(path), "--auto-approve", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["summary"]["installed"] == 1 and document["summary"]["upgraded"] == 1


def test_bad_accept_risk_is_an_input_error(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    path = desired(MAIN)
    result = apply(cloud, tmp_path, str(path), "--accept-risk", "coredns-AddonValidate")
    assert result.returncode == 1  # as in plan: bad input is exit 1 (issue 9)
    assert "CLUSTER/ADDON:RiskName" in result.stderr


def test_saved_plan_applies_exactly_then_is_stale(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    import asyncio

    from .apply_helpers import plan, session_for

    path = desired(MAIN)
    store = LocalBackend(tmp_path / "state")

    async def make(out: Path) -> None:
        async with session_for(cloud.emulator) as session:
            planned = await plan(session, store, path)
        # The saved plan must point at the socket the CLI talks to.
        import dataclasses
        clusters = tuple(dataclasses.replace(c, endpoint=cloud.url) for c in planned.plan.clusters)
        save_plan(out, dataclasses.replace(planned.plan, clusters=clusters), salts=planned.salts)

    planfile = tmp_path / "plan.json"
    asyncio.run(make(planfile))
    # The socket is on this machine: the operator allows it, the plan can't.
    first = run(cloud, tmp_path, "apply", str(planfile), *FAST, "--allow-endpoint", cloud.url)
    assert first.returncode == 0, first.stderr
    assert "1 installed, 1 upgraded" in first.stdout
    # Applying it again: the state serial moved on (and the live add-ons changed).
    again = run(cloud, tmp_path, "apply", str(planfile), *FAST, "--allow-endpoint", cloud.url)
    assert again.returncode == 1
    assert "plan is stale: cluster t-main: the state lineage changed" in again.stderr
    assert "Nothing was changed" in again.stderr


@pytest.mark.slow
def test_saved_plan_refused_when_live_changed(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    import asyncio
    import dataclasses

    from .apply_helpers import plan, session_for

    path = desired(MAIN)
    store = LocalBackend(tmp_path / "state")
    planfile = tmp_path / "plan.json"

    async def make() -> None:
        async with session_for(cloud.emulator) as session:
            planned = await plan(session, store, path)
        clusters = tuple(dataclasses.replace(c, endpoint=cloud.url) for c in planned.plan.clusters)
        save_plan(planfile, dataclasses.replace(planned.plan, clusters=clusters),
                  salts=planned.salts)

    asyncio.run(make())
    # Someone installs an add-on by hand after the review.
    other = desired({"autoscaler": {}}, name="other.yaml")
    meddle = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", str(other), "--auto-approve",
         "--endpoint", cloud.url, "--state-dir", str(tmp_path / "elsewhere"), *FAST],
        capture_output=True, text=True, env=cloud.env, cwd=tmp_path, timeout=60)
    assert meddle.returncode == 0, meddle.stderr
    stale = run(cloud, tmp_path, "apply", str(planfile), *FAST, "--allow-endpoint", cloud.url)
    assert stale.returncode == 1
    assert "plan is stale: cluster t-main: its live add-ons changed since the plan" in stale.stderr
    volcano = [i for i in cloud.emulator.store.list_instances(MAIN_ID, time.time())
               if i.template == "volcano"]
    assert volcano == []


@pytest.mark.slow
def test_second_apply_on_a_locked_cluster_fails_naming_the_holder(
    cloud: Cloud, tmp_path: Path
, desired: DesiredFiles) -> None:
    path = desired(MAIN)
    store = LocalBackend(tmp_path / "state")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from reconciler.statemgr import StateStore\n"
         f"with StateStore(Path({str(tmp_path / 'state')!r})).lock('t-main', 'apply'):\n"
         "    print('locked', flush=True)\n"
         "    time.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        second = apply(cloud, tmp_path, str(path), "--auto-approve")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert second.returncode == 1
    assert "cluster 't-main' is locked by" in second.stdout
    assert f"pid {holder.pid}" in second.stdout
    assert store.read("t-main") is None
    # Once the holder is gone, the next run proceeds.
    third = apply(cloud, tmp_path, str(path), "--auto-approve")
    assert third.returncode == 0, third.stdout + third.stderr


@pytest.mark.slow
def test_import_adopts_without_changing(
    cloud: Cloud, tmp_path: Path, desired: DesiredFiles,
) -> None:
    path = desired(MAIN)
    before = {i.id: (i.version, dict(i.values), i.updated)
              for i in cloud.emulator.store.list_instances(MAIN_ID, time.time())}
    result = run(cloud, tmp_path, "import", "t-main", "npd", str(path), "--endpoint", cloud.url)
    assert result.returncode == 0, result.stderr
    assert "Imported t-main/npd 1.19.1" in result.stdout
    after = {i.id: (i.version, dict(i.values), i.updated)
             for i in cloud.emulator.store.list_instances(MAIN_ID, time.time())}
    assert after == before
    state = LocalBackend(tmp_path / "state").read("t-main")
    assert state is not None and state.addons["npd"].uid == "1b000000-0000-4000-8000-000000000003"
    assert Journal(tmp_path / "state", "t-main").read()[-1]["action"] == "import"
    again = run(cloud, tmp_path, "import", "t-main", "npd", "--endpoint", cloud.url)
    assert again.returncode == 0 and "already managed" in again.stdout
    missing = run(cloud, tmp_path, "import", "t-main", "gpu-beta", str(path),
                  "--endpoint", cloud.url)
    assert missing.returncode == 1
    assert "has no gpu-beta add-on installed" in missing.stderr
