"""Plans are consistent before anything runs (issue 19, item 5).

The digest detects an edit, not a forgery: anyone can recompute it. So a
re-digested plan is checked for what the planner would never write: a change
naming an instance the live read of its cluster did not return (another
cluster's add-on, or another add-on of this cluster), a change repeated, a
JSON key given twice. Each is refused before any request that writes or
prechecks, and a delete is verified by reading the cluster back.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.waiting import AddonFailure, WaitPolicy
from reconciler.apply.writes import AddonWriter
from reconciler.model.plan import Action, Change
from reconciler.planfile.integrity import plan_digest
from reconciler.views.progress import LogProgress
from tests.apply.apply_helpers import MAIN_ID, new_emulator, session_for
from tests.security.test_planfile_tamper import Recorder as CceRecorder
from tests.security.test_planfile_tamper import World, serve

MAIN_COREDNS = "1b000000-0000-4000-8000-000000000001"
MAIN_NPD = "1b000000-0000-4000-8000-000000000003"  # unmanaged: in no change of the plan
FATAL_COREDNS = "1b000000-0000-4000-8000-000000000004"  # cluster t-fatal's
DESIRED = f"""apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "11112222333344445555666677778888"
  endpoint: https://cce.ap-southeast-1.myhuaweicloud.com
clusters:
  t-main:
    cluster_id: {MAIN_ID}
    addons:
      metrics-server:
        version: 1.3.68
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)
    emulator = new_emulator()
    recorder = CceRecorder(emulator.app)
    (tmp_path / "desired.yaml").write_text(DESIRED, encoding="utf-8")
    env: dict[str, str | None] = {
        "HW_ACCESS_KEY": emulator.account.access_key,
        "HW_SECRET_KEY": emulator.account.secret_key,
        "HW_AUTH_TOKEN": None, "NO_COLOR": "1",
    }
    with serve(recorder, "127.0.0.1") as port:
        # The operator allows this machine's emulator: the forgeries here are
        # about instance ids and deletes, not endpoints (tests/security/test_redirects.py).
        env["RECONCILER_ALLOWED_ENDPOINTS"] = f"http://127.0.0.1:{port}"
        yield World(emulator, recorder, f"http://127.0.0.1:{port}", tmp_path, env)


def _saved(world: World) -> Path:
    out = world.tmp / "p.json"
    result = world.cli("plan", "desired.yaml", "--endpoint", world.url, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def _reseal(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    data["digest"] = plan_digest(data)  # what someone who knows the format does
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _delete(addon: str, instance_id: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        changes = data["clusters"][0]["changes"]
        extra = copy.deepcopy(changes[0])
        extra.update(addon=addon, action="delete", instance_id=instance_id,
                     before_version="1.29.4", after_version="", values={}, field_changes=[],
                     provenance={}, depends_on=[], reason="")
        changes.append(extra)
        data["summary"]["delete"] = data["summary"].get("delete", 0) + 1
    return change


def _instances(world: World) -> list[tuple[str, str, str, str]]:
    return sorted((i.id, i.cluster_id, i.template, i.version)
                  for i in world.emulator.store.instances.values())


def _refused(world: World, path: Path, message: str, *, no_reads: bool = False) -> None:
    before = len(world.cce.calls)
    instances = _instances(world)
    result = world.cli("apply", str(path), "--auto-approve", "--poll-interval", "0.05")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    calls = world.cce.calls[before:]
    assert [(m, p) for m, p, _ in calls if m != "GET"] == []  # no write, no precheck
    if no_reads:
        assert calls == []
    assert _instances(world) == instances
    assert not list((world.tmp / "state").glob("*.journal.jsonl"))


def test_a_delete_of_another_clusters_instance_is_refused_before_anything_runs(
        world: World) -> None:
    path = _saved(world)
    _reseal(path, _delete("coredns", FATAL_COREDNS))
    _refused(world, path, f"coredns: the plan names instance {FATAL_COREDNS}, which is not an"
                          " add-on of this cluster")


def test_a_change_naming_another_addons_instance_is_refused(world: World) -> None:
    path = _saved(world)
    _reseal(path, _delete("coredns", MAIN_NPD))
    _refused(world, path, f"coredns: the plan names instance {MAIN_NPD}, which is this"
                          " cluster's npd")


def test_a_plan_with_its_changes_repeated_is_refused_before_any_precheck(
        world: World) -> None:
    path = _saved(world)

    def repeat(data: dict[str, Any]) -> None:
        data["clusters"][0]["changes"] = data["clusters"][0]["changes"] * 50
    _reseal(path, repeat)
    _refused(world, path, "add-on metrics-server has more than one change", no_reads=True)


def test_a_cluster_given_twice_is_refused(world: World) -> None:
    path = _saved(world)

    def twice(data: dict[str, Any]) -> None:
        data["clusters"].append(copy.deepcopy(data["clusters"][0]))
    _reseal(path, twice)
    _refused(world, path, "cluster t-main appears twice", no_reads=True)


def test_one_cluster_under_two_names_is_refused(world: World) -> None:
    """Two entries for one cluster would run side by side, each under its own lock."""
    path = _saved(world)

    def alias(data: dict[str, Any]) -> None:
        data["clusters"].append({**copy.deepcopy(data["clusters"][0]), "name": "t-alias"})
    _reseal(path, alias)
    _refused(world, path, f"cluster_id {MAIN_ID} appears twice (the second time for cluster"
                          " t-alias)", no_reads=True)


@pytest.mark.parametrize("where", ["top", "change"])
def test_a_plan_naming_a_key_twice_is_refused(world: World, where: str) -> None:
    """json.loads keeps the last of two equal keys: a reviewer reading the first
    would approve what apply never runs. The digest covers the last one only."""
    path = _saved(world)
    text = path.read_text(encoding="utf-8")
    if where == "top":
        forged = text.replace('"tool_version":', '"tool_version": "0.0.0",\n  "tool_version":', 1)
        key = "tool_version"
    else:
        forged = text.replace('"after_version": "1.3.68"',
                              '"after_version": "1.3.68", "after_version": "1.3.68"', 1)
        key = "after_version"
    assert forged != text
    data = json.loads(forged)  # the standard library accepts it, last wins
    assert data["digest"] == plan_digest(data)
    path.write_text(forged, encoding="utf-8")
    before = len(world.cce.calls)
    for command in (["apply", str(path), "--auto-approve"], ["show", str(path)]):
        result = world.cli(*command)
        assert result.exit_code == 1, result.output
        assert f"names the key '{key}' twice" in result.stderr, result.stderr
        assert "Traceback" not in result.output
    assert len(world.cce.calls) == before  # not even a read


def test_an_honest_plan_still_applies(world: World) -> None:
    path = _saved(world)
    result = world.cli("apply", str(path), "--auto-approve", "--poll-interval", "0.05")
    assert result.exit_code == 0, result.output
    assert any(m == "PUT" for m, _ in world.cce.writes)


def test_a_delete_answered_404_is_read_back_not_assumed() -> None:
    """Below the plan checks: the writer itself never calls a 404 "deleted"
    while the cluster still runs the add-on (t-fatal's id, asked of t-main)."""
    emulator = new_emulator()

    async def attempt() -> None:
        async with session_for(emulator) as session:
            client = session.client("https://cce.ap-southeast-1.myhuaweicloud.com",
                                    "ap-southeast-1", emulator.account.project_id)
            writer = AddonWriter(client, MAIN_ID, "t-main",
                                 WaitPolicy(timeout_s=5.0, poll_interval_s=0.05),
                                 LogProgress(io.StringIO()))
            change = Change(addon="coredns", action=Action.DELETE, instance_id=FATAL_COREDNS,
                            before_version="1.29.4")
            await writer.write(change, None)

    with pytest.raises(AddonFailure, match="the delete did not take: the cluster still runs"
                                           f" coredns as instance {MAIN_COREDNS}"):
        asyncio.run(attempt())
    assert {i.id for i in emulator.store.instances.values()} >= {MAIN_COREDNS, FATAL_COREDNS}
