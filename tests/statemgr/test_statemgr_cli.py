from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
import filelock
import pytest
from click.testing import CliRunner
from statemgr_helpers import sample_state

from reconciler.cli.state import force_unlock, state
from reconciler.statemgr import Journal, StateStore, from_json, to_json
from reconciler.statemgr.lock import LockInfo, lock_info_to_json
from reconciler.statemgr.store import with_addon

# The commands as reconciler.cli registers them, without importing the other layers.
cli = click.Group("reconciler", commands=[state, force_unlock])


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "state")
    prod = sample_state("prod")
    staging = sample_state("staging")
    staging = with_addon(dataclasses.replace(staging, addons={}), prod.addons["everest"])
    store.write(prod)
    store.put_addon(store.write(store.write(staging)), prod.addons["coredns"])
    return store


def run(store: StateStore, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--state-dir", str(store.state_dir)], input=input)
    return result.exit_code, result.output


def test_state_list_shows_each_addon_version_and_last_result(store: StateStore) -> None:
    Journal(store.state_dir, "prod").append(
        {"time": "2026-01-02T03:04:05Z", "action": "upgrade", "addon": "coredns",
         "result": "failed"})
    Journal(store.state_dir, "prod").append(
        {"time": "2026-01-02T03:05:00Z", "action": "precheck", "addon": "coredns",
         "result": "passed"})
    code, output = run(store, "state", "list")
    assert code == 0
    lines = output.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert lines[0].split() == ["CLUSTER", "CLUSTER-ID", "SERIAL", "LINEAGE", "ADD-ON",
                                "VERSION", "LAST"]
    lineage, cluster_id = sample_state().lineage[:8], sample_state().cluster_id
    prod = sample_state().addons
    # A precheck says nothing about the add-on's outcome: the failed upgrade is its last.
    assert lines[1].split() == ["prod", cluster_id, "1", lineage, "coredns",
                                prod["coredns"].version, "failed", "2026-01-02", "03:04:05"]
    assert lines[2].split() == ["prod", cluster_id, "1", lineage, "everest",
                                prod["everest"].version, "-"]
    assert [line.split()[0] for line in lines[3:5]] == ["staging", "staging"]
    assert lines[-1].startswith("Health is not read live")


def test_state_list_json_has_every_cluster_and_addon(store: StateStore) -> None:
    code, output = run(store, "state", "list", "--format", "json")
    assert code == 0, output
    document = json.loads(output)
    assert "not read live" in document["note"]
    assert [c["cluster"] for c in document["clusters"]] == ["prod", "staging"]
    prod = document["clusters"][0]
    assert prod["serial"] == 1 and prod["lineage"] == sample_state().lineage
    assert [(a["name"], a["version"], a["last_result"]) for a in prod["addons"]] == [
        (name, sample_state().addons[name].version, None) for name in ("coredns", "everest")]


def test_state_list_of_an_empty_dir(tmp_path: Path) -> None:
    code, output = run(StateStore(tmp_path), "state", "list")
    assert code == 0 and "No state files" in output


def test_state_show_json_is_the_file(store: StateStore) -> None:
    code, output = run(store, "state", "show", "prod", "--json")
    assert code == 0
    assert output == store.paths("prod").state.read_text()
    assert from_json(output) == store.read("prod")


def test_state_show_is_readable_and_secrets_stay_hashed(store: StateStore) -> None:
    code, output = run(store, "state", "show", "prod")
    assert code == 0
    assert "coredns 1.30.3" in output and "everest 2.4.9" in output
    assert "accepted risks:  NodeOSRisk" in output
    assert "precheck tasks:  task-1, task-2" in output
    assert "password: (sensitive) sha256:" in output
    assert "hunter2" not in output


def test_state_show_of_an_unknown_cluster_lists_the_known_ones(store: StateStore) -> None:
    code, output = run(store, "state", "show", "qa")
    assert code == 1
    assert "no state for cluster 'qa'" in output and "prod, staging" in output


def test_state_show_of_a_corrupt_file_says_what_is_wrong(store: StateStore) -> None:
    store.paths("prod").state.write_text("{")
    code, output = run(store, "state", "show", "prod")
    assert code == 1
    assert "unreadable" in output and "not valid JSON" in output


def test_state_rm_forgets_the_addon_atomically_and_journals_it(store: StateStore) -> None:
    code, output = run(store, "state", "rm", "prod", "coredns")
    assert code == 0, output
    assert "Removed coredns from the state of prod (serial 2)" in output
    after = store.read("prod")
    assert after is not None and sorted(after.addons) == ["everest"] and after.serial == 2
    assert "coredns" in from_json(store.paths("prod").backup.read_text()).addons
    [record] = Journal(store.state_dir, "prod").read()
    assert (record["action"], record["addon"], record["serial"]) == ("state rm", "coredns", 2)
    assert store.lock_info("prod") is None


def test_state_rm_of_an_unmanaged_addon_fails(store: StateStore) -> None:
    before = store.paths("prod").state.read_text()
    code, output = run(store, "state", "rm", "prod", "cce-hpa")
    assert code == 1
    assert "does not manage add-on 'cce-hpa' (managed: coredns, everest)" in output
    assert store.paths("prod").state.read_text() == before


def test_state_rm_refuses_while_locked_and_names_the_holder(store: StateStore) -> None:
    before = store.paths("prod").state.read_text()
    with store.lock("prod", operation="apply") as holder:
        code, output = run(store, "state", "rm", "prod", "coredns")
    assert code == 1
    assert f"pid {holder.pid}" in output and "apply" in output
    assert store.paths("prod").state.read_text() == before


def test_force_unlock_prints_who_held_it(store: StateStore) -> None:
    with store.lock("prod", operation="apply") as holder:
        code, output = run(store, "force-unlock", "prod", "--yes")
        assert code == 0
        assert f"it was held by {holder.who}@{holder.host} (pid {holder.pid}, apply" in output
        assert store.lock_info("prod") is None
        with store.lock("prod", operation="state rm"):
            pass


def test_force_unlock_asks_first(store: StateStore) -> None:
    with store.lock("prod", operation="apply") as holder:
        code, output = run(store, "force-unlock", "prod", input="n\n")
        assert code == 1
        assert f"pid {holder.pid}" in output and "Aborted" in output
        assert store.lock_info("prod") == holder


def test_force_unlock_without_a_lock(store: StateStore) -> None:
    code, output = run(store, "force-unlock", "prod", "--yes")
    assert code == 0 and "Cluster prod is not locked; nothing to unlock." in output
    assert not store.paths("prod").lock.exists()


def test_force_unlock_of_a_held_lock_without_holder_info(store: StateStore) -> None:
    # A holder killed between taking the flock and writing who it is.
    held = filelock.FileLock(str(store.paths("prod").lock), thread_local=False)
    with held:
        code, output = run(store, "force-unlock", "prod", "--yes")
    assert code == 0 and "no holder was recorded" in output
    assert not store.paths("prod").lock.exists()


def test_force_unlock_after_a_finished_run_says_there_was_no_lock(store: StateStore) -> None:
    # Every run leaves its (released) lock file behind: that is no lock to break.
    with store.lock("prod", operation="apply"):
        pass
    assert store.paths("prod").lock.exists()
    code, output = run(store, "force-unlock", "prod", "--yes")
    assert code == 0
    assert output == "Cluster prod is not locked; nothing to unlock.\n"
    assert "Unlocked" not in output


def test_force_unlock_of_a_free_lock_with_a_dead_holders_record(store: StateStore) -> None:
    # A holder killed after writing its record: the flock died with it, the record stayed.
    stale = dataclasses.replace(LockInfo.for_this_process("apply"), pid=2**22 + 7)
    paths = store.paths("prod")
    paths.lock.touch()
    paths.lock_info.write_text(lock_info_to_json(stale))
    code, output = run(store, "force-unlock", "prod", "--yes")
    assert code == 0
    assert output.startswith("Cluster prod is not locked; nothing to unlock (last held by ")
    assert f"pid {stale.pid}" in output


def test_force_unlock_of_an_unknown_cluster_is_an_error(store: StateStore) -> None:
    code, output = run(store, "force-unlock", "nosuch", "--yes")
    assert code == 1
    assert "no state or lock for cluster 'nosuch'" in output and "prod, staging" in output


@pytest.mark.parametrize(
    "command",
    [["state", "list"], ["state", "show"], ["state", "rm"], ["state", "mv"], ["force-unlock"]],
)
def test_help_shows_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "reconciler " + " ".join(command) in result.output
    assert "--state-dir" in result.output


def test_round_trip_through_the_cli_preserves_the_canonical_text(store: StateStore) -> None:
    _code, output = run(store, "state", "show", "staging", "--json")
    assert to_json(from_json(output)) == output


def test_state_mv_moves_state_backup_and_journal_under_both_locks(store: StateStore) -> None:
    """Issue 11, path 10: a renamed cluster key takes its state along."""
    before = store.read("staging")
    Journal(store.state_dir, "staging").append({"action": "install", "addon": "everest"})
    code, output = run(store, "state", "mv", "staging", "stage/eu")
    assert code == 0, output
    assert "Moved the state of staging to stage/eu" in output
    moved = store.read("stage/eu")
    assert before is not None and moved is not None
    assert (moved.lineage, moved.serial, moved.addons) == (before.lineage, before.serial,
                                                           before.addons)
    assert store.read("staging") is None and store.list() == ["prod", "stage/eu"]
    assert not store.paths("staging").backup.exists()
    backup = from_json(store.paths("stage/eu").backup.read_text())
    assert backup.cluster_name == "stage/eu" and backup.serial == before.serial - 1
    records = Journal(store.state_dir, "stage/eu").read()
    assert [r["action"] for r in records] == ["install", "state mv"]
    assert (records[-1]["from"], records[-1]["to"]) == ("staging", "stage/eu")
    assert Journal(store.state_dir, "staging").read() == []
    assert store.lock_info("staging") is None and store.lock_info("stage/eu") is None


def test_state_mv_refuses_an_existing_target_a_missing_source_and_a_lock(
        store: StateStore) -> None:
    files = {p.name: p.read_bytes() for p in store.state_dir.iterdir()}
    code, output = run(store, "state", "mv", "prod", "staging")
    assert code == 1 and "'staging' already has a state" in output, output
    code, output = run(store, "state", "mv", "qa", "qa2")
    assert code == 1 and "no state for cluster 'qa'" in output, output
    with store.lock("staging", operation="apply") as holder:
        code, output = run(store, "state", "mv", "prod", "staging2")
        assert code == 0, output
        code, output = run(store, "state", "mv", "staging2", "staging")
    assert code == 1 and f"pid {holder.pid}" in output, output
    assert store.list() == ["staging", "staging2"]
    assert store.paths("staging").state.read_bytes() == files["staging.json"]
    assert "Traceback" not in output


def test_state_rm_without_an_addon_forgets_the_whole_state(store: StateStore) -> None:
    code, output = run(store, "state", "rm", "prod")
    assert code == 0, output
    assert "Forgot the state of prod" in output and "coredns, everest" in output
    assert store.list() == ["staging"] and not store.paths("prod").backup.exists()
    code, output = run(store, "state", "rm", "prod")
    assert code == 1 and "no state for cluster 'prod'" in output


def test_state_rm_keeps_the_journal_and_closes_it(store: StateStore) -> None:
    """The audit trail outlives the state: history still shows the forgotten cluster."""
    Journal(store.state_dir, "prod").append({"action": "install", "addon": "everest"})
    before = store.read("prod")
    assert before is not None
    lineage = before.lineage
    code, output = run(store, "state", "rm", "prod")
    assert code == 0 and "its journal is kept" in output, output
    records = Journal(store.state_dir, "prod").read()
    assert [r["action"] for r in records] == ["install", "state rm"]
    assert (records[-1]["lineage"], records[-1]["addons"]) == (lineage, ["coredns", "everest"])
    # A cluster can be moved onto the name: the old history stays first.
    code, output = run(store, "state", "mv", "staging", "prod")
    assert code == 0, output
    assert [r["action"] for r in Journal(store.state_dir, "prod").read()] == [
        "install", "state rm", "state mv"]

