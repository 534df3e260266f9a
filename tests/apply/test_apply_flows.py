"""End-to-end apply against the emulator in-process: every action, risks, failures."""

from __future__ import annotations

import json
from pathlib import Path

from builders.desired import cluster
from builders.desired import secret as secret_ref

from reconciler.model.apply import Outcome
from reconciler.statemgr.local import LocalBackend
from reconciler.views.apply import apply_result_json, apply_summary

from .apply_helpers import (
    FATAL_ID,
    MAIN_ID,
    DesiredFiles,
    actions,
    journal,
    live,
    new_emulator,
    plan,
    plan_and_apply,
    session_for,
)

MAIN_ALL = {
    "coredns": {"version": "1.30.33", "precheck": {"accept": ["K8sResourceModified"]}},
    "metrics-server": {"version": "1.3.68"},
    "npd": {},
    "volcano": {"version": "1.15.8"},
}


def outcomes(result, cluster: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    c = next(c for c in result.clusters if c.name == cluster)
    return {r.addon: r.outcome.value for r in c.addons}


async def test_install_upgrade_adopt_then_nothing_left(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    path = desired(MAIN_ALL)
    async with session_for(emu) as session:
        planned, result, log = await plan_and_apply(session, store, path)
        assert actions(planned, "t-main") == {
            "coredns": "upgrade", "metrics-server": "upgrade", "npd": "adopt", "volcano": "install"
        }
        assert result.ok, log
        assert outcomes(result, "t-main") == {
            "coredns": "upgraded", "metrics-server": "upgraded", "npd": "adopted",
            "volcano": "installed",
        }
        assert apply_summary(result) == (
            # The two upgrades also adopt their unmanaged instances (issue 11, path 5).
            "Apply complete: 1 installed, 2 upgraded (2 adopting), 0 updated, 0 deleted,"
            " 1 adopted; 0 blocked, 0 failed."
        )
        now = live(emu, MAIN_ID)
        assert now["coredns"] == ("1.30.33", "running")
        assert now["volcano"] == ("1.15.8", "running")

        state = store.read("t-main")
        assert state is not None and state.serial == 4  # one write per add-on
        assert {n: a.version for n, a in state.addons.items()} == {
            "coredns": "1.30.33", "metrics-server": "1.3.68", "npd": "1.19.1", "volcano": "1.15.8"
        }
        volcano = emu.store.list_instances(MAIN_ID, 1e12)
        assert state.addons["volcano"].uid in {i.id for i in volcano}
        # The accepted Warning is recorded in state and journal, with the precheck task.
        coredns = state.addons["coredns"]
        assert coredns.accepted_risks == ("K8sResourceModified",)
        assert len(coredns.precheck_task_ids) == 1
        lines = journal(store, "t-main")
        upgrade = next(j for j in lines if j["addon"] == "coredns" and j["action"] == "upgrade")
        assert upgrade["accepted_risks"] == ["K8sResourceModified"]
        assert upgrade["precheck_task_ids"] == list(coredns.precheck_task_ids)
        assert upgrade["from_version"] == "1.29.4" and upgrade["to_version"] == "1.30.33"
        assert {(j["addon"], j["action"]) for j in lines} >= {
            ("coredns", "precheck"), ("volcano", "install"), ("npd", "adopt")
        }

        again = (await plan(session, store, path)).plan
        assert not again.has_changes and not again.has_errors


async def test_update_and_delete(tmp_path: Path, desired: DesiredFiles) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    first = desired({"metrics-server": {}, "npd": {}})
    async with session_for(emu) as session:
        _, result, log = await plan_and_apply(session, store, first)
        assert result.ok, log
        second = desired({
            "metrics-server": {"values": {"custom": {"multiAZEnabled": True}}},
            "npd": {"state": "absent"},
        }, name="second.yaml")
        planned, result, log = await plan_and_apply(session, store, second)
        assert actions(planned, "t-main") == {"metrics-server": "update", "npd": "delete"}
        assert outcomes(result, "t-main") == {"metrics-server": "updated", "npd": "deleted"}, log
        assert "npd" not in live(emu, MAIN_ID)
        instance = next(i for i in emu.store.list_instances(MAIN_ID, 1e12)
                        if i.template == "metrics-server")
        assert instance.values["custom"]["multiAZEnabled"] is True
        # Full values were sent, not just the changed key.
        assert instance.values["flavor"]["name"] == "Single"
        state = store.read("t-main")
        assert state is not None and set(state.addons) == {"metrics-server"}
        assert state.addons["metrics-server"].values["custom"]["multiAZEnabled"] is True


async def test_fatal_and_unaccepted_warning_block_dependents_but_not_others(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    path = desired(clusters={
        "t-main": cluster(MAIN_ID, {
            "coredns": {"version": "1.30.33"},
            "metrics-server": {"version": "1.3.68"},
        }),
        "t-fatal": cluster(FATAL_ID, {
            "coredns": {"version": "1.30.33", "precheck": {"accept": ["AddonValidate"]}},
            "metrics-server": {"version": "1.3.68", "depends_on": ["coredns"]},
        }),
    })
    async with session_for(emu) as session:
        _, result, log = await plan_and_apply(session, store, path)
    assert not result.ok
    # Unaccepted Warning on t-main blocks coredns only; metrics-server proceeds.
    assert outcomes(result, "t-main") == {"coredns": "blocked", "metrics-server": "upgraded"}
    # A Fatal risk can't be accepted; the dependent is skipped.
    assert outcomes(result, "t-fatal") == {"coredns": "blocked", "metrics-server": "skipped"}
    assert live(emu, MAIN_ID)["coredns"][0] == "1.29.4"
    assert live(emu, FATAL_ID) == {"coredns": ("1.29.4", "running"),
                                   "metrics-server": ("1.3.60", "running")}
    messages = {(c.name, r.addon): r.message for c in result.clusters for r in c.addons}
    assert "K8sResourceModified (Warning, not accepted)" in messages[("t-main", "coredns")]
    assert "AddonValidate (Fatal: cannot be accepted)" in messages[("t-fatal", "coredns")]
    assert "configmap coredns had been modified" in messages[("t-fatal", "coredns")]
    assert "depends on coredns (blocked)" in messages[("t-fatal", "metrics-server")]
    assert result.count(Outcome.BLOCKED) == 2 and result.count(Outcome.SKIPPED) == 1
    assert "AddonValidate" in log
    blocked = [j for j in journal(store, "t-fatal") if j["result"] == "blocked"]
    assert {j["action"] for j in blocked} == {"precheck", "upgrade"}
    assert all(j["precheck_task_ids"] for j in blocked)


async def test_command_line_acceptance_lets_a_warning_pass(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    path = desired({"coredns": {"version": "1.30.33"}})
    async with session_for(emu) as session:
        _, result, log = await plan_and_apply(
            session, store, path,
            accept_risks={"t-main": {"coredns": {"K8sResourceModified"}}},
        )
    assert outcomes(result, "t-main") == {"coredns": "upgraded"}, log
    state = store.read("t-main")
    assert state is not None
    assert state.addons["coredns"].accepted_risks == ("K8sResourceModified",)


async def test_failed_upgrade_is_reported_and_state_keeps_last_good(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    adopt = desired({"npd": {}, "metrics-server": {}})
    upgrade = desired({"npd": {"version": "1.19.9"}, "metrics-server": {"version": "1.3.68"}},
                      name="upgrade.yaml")
    async with session_for(emu) as session:
        await plan_and_apply(session, store, adopt)
        _, result, log = await plan_and_apply(session, store, upgrade)
    assert outcomes(result, "t-main") == {"npd": "failed", "metrics-server": "upgraded"}, log
    npd = next(r for c in result.clusters for r in c.addons if r.addon == "npd")
    assert "upgradeFailed" in npd.message
    assert "Reason: UpgradeFailed" in npd.message
    assert "timed out waiting for the condition" in npd.message
    state = store.read("t-main")
    assert state is not None and state.addons["npd"].version == "1.19.1"
    failed = [j for j in journal(store, "t-main") if j["result"] == "failed"]
    assert [j["addon"] for j in failed] == ["npd"]


async def test_on_failure_rollback_rolls_back_and_waits(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    # The scenario makes every npd upgrade to 1.19.9 on t-main fail.
    path = desired({"npd": {"version": "1.19.9", "on_failure": "rollback"}})
    async with session_for(emu) as session:
        _, result, log = await plan_and_apply(session, store, path)
    npd = next(r for c in result.clusters for r in c.addons if r.addon == "npd")
    assert npd.outcome is Outcome.ROLLED_BACK, log
    assert "upgradeFailed" in npd.message and "rolled back to 1.19.1" in npd.message
    assert live(emu, MAIN_ID)["npd"] == ("1.19.1", "running")
    assert not result.ok
    assert "1 failed" in apply_summary(result)


async def test_secrets_never_reach_state_journal_or_output(
    tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    secret = "s3cr3t-Value-Never-Shown"
    path = desired({"autoscaler": {"values": {"custom": {
        "maxNodesTotal": 50, "password": secret_ref("AUTOSCALER_PASSWORD"),
    }}}})
    environ = {"AUTOSCALER_PASSWORD": secret}
    async with session_for(emu) as session:
        _, result, log = await plan_and_apply(session, store, path, environ=environ)
    assert outcomes(result, "t-main") == {"autoscaler": "installed"}, log
    # The cluster got the real value…
    instance = next(i for i in emu.store.list_instances(MAIN_ID, 1e12)
                    if i.template == "autoscaler")
    assert instance.values["custom"]["password"] == secret
    # …nothing we wrote or printed has it.
    written = "".join(p.read_text() for p in (tmp_path / "state").iterdir() if p.is_file())
    assert secret not in written
    assert secret not in log and secret not in json.dumps(apply_result_json(result))
    state = store.read("t-main")
    assert state is not None
    assert state.addons["autoscaler"].values["custom"]["password"].startswith(
        "(sensitive) sha256:"
    )


async def test_state_behind_a_noop_is_caught_up(tmp_path: Path, desired: DesiredFiles) -> None:
    """A run that upgraded an add-on and died before writing the state leaves
    the state behind; the next plan shows a state-only refresh and apply
    records what is live, sending nothing."""
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    old = desired({"metrics-server": {}})
    new = desired({"metrics-server": {"version": "1.3.68"}}, name="new.yaml")
    async with session_for(emu) as session:
        await plan_and_apply(session, store, old)
        # What the dead run did: the upgrade with full values, then nothing.
        upgrade = (await plan(session, store, new)).plan.clusters[0].changes[0]
        client = session.client("https://cce.ap-southeast-1.myhuaweicloud.com",
                                "ap-southeast-1", emu.account.project_id)
        await client.update(upgrade.instance_id, MAIN_ID, "metrics-server", "1.3.68",
                            upgrade.values, upgrade=True)
        import asyncio

        while live(emu, MAIN_ID)["metrics-server"][1] != "running":
            await asyncio.sleep(0.02)
        planned, result, log = await plan_and_apply(session, store, new)
    assert actions(planned, "t-main") == {"metrics-server": "refresh"}
    assert outcomes(result, "t-main") == {"metrics-server": "refreshed"}
    assert result.ok, log
    state = store.read("t-main")
    assert state is not None and state.addons["metrics-server"].version == "1.3.68"
    last = journal(store, "t-main")[-1]
    assert (last["action"], last["result"], last["from_version"], last["to_version"]) == (
        "refresh", "refreshed", "1.3.60", "1.3.68"
    )
    assert "nothing was sent" in str(last["message"])
