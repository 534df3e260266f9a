from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest
from statemgr_helpers import coredns, python

from reconciler.statemgr import (
    ClearSecretError,
    CorruptStateError,
    StateConflictError,
    StateStore,
    from_json,
    with_addon,
)


def test_absent_state_reads_as_none(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "missing")
    assert store.read("prod") is None
    assert store.list() == []


def test_new_state_has_fresh_lineage_and_salt(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    first, second = store.new("prod", "c1", "p1"), store.new("prod", "c1", "p1")
    assert first.serial == 0 and first.addons == {}
    assert first.lineage != second.lineage and first.salt != second.salt
    assert len(first.salt) >= 32


def test_writes_bump_the_serial_and_keep_a_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    written = store.write(store.new("prod", "c1", "p1"))
    assert written.serial == 1
    assert store.read("prod") == written
    assert not store.paths("prod").backup.exists()

    second = store.put_addon(written, coredns())
    assert second.serial == 2
    assert store.read("prod") == second
    assert from_json(store.paths("prod").backup.read_text()) == written

    third = store.remove_addon(second, "coredns")
    assert third.serial == 3 and "coredns" not in third.addons
    assert from_json(store.paths("prod").backup.read_text()) == second
    assert store.list() == ["prod"]


@pytest.mark.parametrize("name", ["prod/eu", ".hidden", "..", "a b%c", "ünï"])
def test_cluster_names_become_safe_file_names(tmp_path: Path, name: str) -> None:
    state_dir = tmp_path / "state"
    store = StateStore(state_dir)
    store.write(store.new(name, "c1"))
    files = [p for p in state_dir.iterdir() if not p.name.startswith(".")]
    assert len(files) == 1
    assert files[0].parent == state_dir
    assert "/" not in files[0].name
    assert store.list() == [name]
    read = store.read(name)
    assert read is not None and read.cluster_name == name


def test_empty_cluster_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        StateStore(tmp_path).read("")


def test_corrupt_file_raises_and_is_never_replaced(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = store.put_addon(store.write(store.new("prod", "c1")), coredns())
    path = store.paths("prod").state
    damaged = path.read_bytes()[:40]
    path.write_bytes(damaged)

    with pytest.raises(CorruptStateError) as caught:
        store.read("prod")
    message = str(caught.value)
    assert str(path) in message and "not valid JSON" in message
    assert str(store.paths("prod").backup) in message

    with pytest.raises(CorruptStateError):
        store.write(state)
    assert path.read_bytes() == damaged


def test_a_file_holding_another_cluster_is_corrupt(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write(store.new("staging", "c1"))
    os.replace(store.paths("staging").state, store.paths("prod").state)
    with pytest.raises(CorruptStateError, match="holds cluster 'staging', not 'prod'"):
        store.read("prod")


def test_a_stale_writer_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    base = store.write(store.new("prod", "c1"))
    store.put_addon(base, coredns())
    with pytest.raises(StateConflictError, match=r"serial 2.*serial 1"):
        store.put_addon(base, coredns("1.31.0"))
    other_lineage = dataclasses.replace(store.new("prod", "c1"), serial=2)
    with pytest.raises(StateConflictError, match="lineage"):
        store.write(other_lineage)
    with pytest.raises(StateConflictError):
        store.write(store.new("prod", "c1"))


def test_a_vanished_file_is_not_recreated_from_an_old_copy(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    written = store.write(store.new("prod", "c1"))
    store.paths("prod").state.unlink()
    with pytest.raises(StateConflictError, match="gone"):
        store.write(written)


def test_clear_secrets_are_refused_without_echoing_them(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    leaky = dataclasses.replace(
        coredns(), values={"custom": {"upstream": {"auth": {"password": "hunter2"}}}}
    )
    with pytest.raises(ClearSecretError) as caught:
        store.write(with_addon(store.new("prod", "c1"), leaky))
    assert "custom.upstream.auth.password" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert store.read("prod") is None


def test_leftover_temp_files_are_ignored(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    written = store.write(store.new("prod", "c1"))
    (tmp_path / ".prod.json.tmp-abc123").write_text('{"half": ')
    assert store.list() == ["prod"]
    assert store.read("prod") == written


_WRITER = """
import sys
from pathlib import Path
from reconciler.statemgr import StateStore
from reconciler.model.state import ManagedAddon

store = StateStore(Path(sys.argv[1]))
state = store.read("prod")
big = {"custom": {"blob": "x" * 200_000}}
print("ready", flush=True)
while True:
    addon = ManagedAddon(name="a", uid="u", version=str(state.serial), values=big,
                         values_digest="d", applied_at="2024-05-01T10:00:00Z")
    state = store.put_addon(state, addon)
"""


def test_sigkill_during_writes_leaves_old_or_new_never_half(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.write(store.new("prod", "c1"))
    last_serial = 1
    for delay in (0.05, 0.11, 0.17, 0.23):
        writer = python(_WRITER, str(tmp_path))
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        state = store.read("prod")
        assert state is not None and state.serial > last_serial
        if state.addons:
            assert state.addons["a"].version == str(state.serial - 1)
        backup = from_json(store.paths("prod").backup.read_bytes())
        # Killed between the backup and the state rename, the backup equals the state.
        assert backup.lineage == state.lineage
        assert backup.serial in (state.serial - 1, state.serial)
        last_serial = state.serial
