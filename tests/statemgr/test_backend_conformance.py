"""The conformance suite: every state backend passes the same tests.

Parametrised over ``local``, ``s3`` (moto's server), ``postgres`` (a real
PostgreSQL) and ``s3+postgres-lock`` through the ``target`` fixture.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.statemgr.actor import user_name
from reconciler.statemgr.errors import LockError, StateConflictError
from reconciler.statemgr.migrate import migrate
from reconciler.statemgr.statefile import to_json
from tests.statemgr.conftest import S3_SECRET_KEY, Target
from tests.statemgr.statemgr_helpers import sample_state


def test_empty_backend_reads_nothing(target: Target) -> None:
    backend = target.open()
    assert backend.list() == []
    assert backend.read("prod") is None
    assert backend.read_journal("prod") == []
    assert backend.lock_info("prod") is None


def test_a_blob_round_trips_is_replaced_and_is_not_a_cluster(target: Target) -> None:
    backend = target.open()
    assert backend.read_blob("notify-drift") is None
    backend.write_blob("notify-drift", b'{"digest": "a"}')
    backend.write_blob("notify-drift", b'{"digest": "b"}')
    assert target.open().read_blob("notify-drift") == b'{"digest": "b"}'
    assert backend.list() == []
    with pytest.raises(ValueError, match="blob key"):
        backend.write_blob("../escape", b"x")


def test_write_then_read_back_round_trips(target: Target) -> None:
    backend = target.open()
    written = backend.write(sample_state("prod/eu"))
    assert written.serial == 1
    again = target.open().read("prod/eu")
    assert again is not None and to_json(again) == to_json(written)
    second = backend.write(written)
    assert second.serial == 2
    assert backend.list() == ["prod/eu"]


def test_a_stale_writer_loses_instead_of_overwriting(target: Target) -> None:
    first = target.open()
    base = first.write(sample_state("prod"))
    other = target.open()
    seen_by_other = other.read("prod")
    assert seen_by_other is not None
    winner = first.write(dataclasses.replace(base, cluster_id="moved-on"))
    with pytest.raises(StateConflictError, match="serial"):
        other.write(dataclasses.replace(seen_by_other, cluster_id="lost-update"))
    stored = first.read("prod")
    assert stored is not None and stored.cluster_id == "moved-on"
    assert stored.serial == winner.serial


def test_a_write_from_serial_0_over_an_existing_state_is_refused(target: Target) -> None:
    backend = target.open()
    backend.write(sample_state("prod"))
    fresh = dataclasses.replace(sample_state("prod"), lineage="another-lineage")
    with pytest.raises(StateConflictError):
        target.open().write(fresh)


@pytest.mark.parametrize("start_serial", [0, 1])
def test_concurrent_writers_exactly_one_wins(target: Target, start_serial: int) -> None:
    seed = sample_state("prod")
    if start_serial:
        seed = target.open().write(seed)
    writers = [target.open() for _ in range(4)]
    barrier = threading.Barrier(len(writers))
    outcomes: list[str] = []

    def write(index: int) -> None:
        state = dataclasses.replace(seed, cluster_id=f"writer-{index}")
        barrier.wait()
        try:
            writers[index].write(state)
            outcomes.append(f"won writer-{index}")
        except StateConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("conflict") == len(writers) - 1
    stored = target.open().read("prod")
    assert stored is not None and stored.serial == start_serial + 1
    assert winners[0] == f"won {stored.cluster_id}"


def test_lock_contention_names_the_holder(target: Target) -> None:
    holder, contender = target.open(), target.open()
    with holder.lock("prod", "apply") as info:
        with pytest.raises(LockError) as refused, contender.lock("prod", "plan", timeout_s=0):
            pass
        message = str(refused.value)
        assert f"{info.who}@{info.host}" in message
        assert f"pid {info.pid}" in message and "apply" in message
        assert "force-unlock prod" in message
        assert "\n" not in message
        recorded = contender.lock_info("prod")
        assert recorded is not None and recorded.id == info.id
    assert contender.lock_info("prod") is None
    with contender.lock("prod", "plan"):
        pass


def test_a_waiting_locker_gets_the_lock_once_released(target: Target) -> None:
    holder, waiter = target.open(), target.open()
    released = threading.Event()

    def hold() -> None:
        with holder.lock("prod", "apply"):
            taken.set()
            time.sleep(0.4)
        released.set()

    taken = threading.Event()
    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    with waiter.lock("prod", "apply", timeout_s=10):
        assert released.is_set()
    thread.join()


def test_locks_of_different_clusters_are_independent(target: Target) -> None:
    a, b = target.open(), target.open()
    with a.lock("prod", "apply"), b.lock("staging", "apply"):
        pass


_CRASHER = """
import sys, time
from reconciler.statemgr.factory import open_backend
from reconciler.statemgr.statefile import from_json
backend = open_backend(sys.argv[1])
state = from_json(open(sys.argv[2], encoding="utf-8").read())
with backend.lock("prod", "apply"):
    backend.write(state)
    print("written", flush=True)
    time.sleep(60)
"""


def test_a_crash_between_write_and_unlock_leaves_state_intact_and_lock_breakable(
    target: Target, tmp_path: Path
) -> None:
    base = target.open().write(sample_state("prod"))
    to_write = tmp_path / "to-write.json"
    to_write.write_text(to_json(dataclasses.replace(base, cluster_id="from-the-crasher")))
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, target.url, str(to_write)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **target.env},
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, errors = child.communicate(timeout=10)
    assert line.strip() == "written", errors

    backend = target.open()
    state = backend.read("prod")
    assert state is not None and state.serial == base.serial + 1
    assert state.cluster_id == "from-the-crasher"
    stale = backend.lock_info("prod")
    assert stale is not None and stale.pid == child.pid and stale.holder_is_gone()
    try:
        # local and postgres: the OS / server dropped the lock with the process.
        with backend.lock("prod", "apply", timeout_s=1):
            pass
    except LockError as exc:
        # s3: the lock object outlives its holder; the refusal says so.
        assert f"pid {child.pid}" in str(exc) and "no longer running" in str(exc)
        broken = backend.force_unlock("prod")
        assert broken is not None and broken.pid == child.pid
        with backend.lock("prod", "apply"):
            pass
    after = backend.read("prod")
    assert after is not None and to_json(after) == to_json(state)


def test_force_unlock_breaks_a_held_lock(target: Target) -> None:
    holder, breaker = target.open(), target.open()
    with holder.lock("prod", "apply") as info:
        broken = breaker.force_unlock("prod")
        assert broken is not None and broken.id == info.id
        with breaker.lock("prod", "apply", timeout_s=5):
            pass


def test_journal_keeps_append_order_across_writers(target: Target) -> None:
    writers = [target.open(), target.open()]
    appended = [
        writers[i % 2].append_journal("prod", {"action": "upgrade", "seq": i}) for i in range(12)
    ]
    assert target.open().read_journal("prod") == appended
    assert [r["seq"] for r in appended] == list(range(12))
    assert all(r["time"].endswith("Z") for r in appended)
    assert target.open().read_journal("staging") == []


def test_journal_records_the_actor(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """Who did it: user@host and the CI run visible in the environment; a
    copied record (it has a time) keeps the actor it had."""
    for name in ("RECONCILER_ACTOR", "GITHUB_RUN_ID", "CI_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    backend = target.open()
    who = f"{user_name()}@{socket.gethostname()}"
    backend.append_journal("prod", {"action": "install"})
    monkeypatch.setenv("GITHUB_RUN_ID", "9876")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/fleet")
    backend.append_journal("prod", {"action": "upgrade"})
    monkeypatch.setenv("CI_JOB_ID", "55")
    monkeypatch.delenv("GITHUB_RUN_ID")
    monkeypatch.setenv("CI_PROJECT_PATH", "group/fleet")
    backend.append_journal("prod", {"action": "update"})
    monkeypatch.setenv("RECONCILER_ACTOR", "jenkins build 12 by bob")
    backend.append_journal("prod", {"action": "delete"})
    copied = {"time": "2024-05-01T10:00:00Z", "actor": "old@h", "action": "x"}
    backend.append_journal("prod", copied)
    actors = [r["actor"] for r in target.open().read_journal("prod")]
    assert actors == [who, f"{who} (github acme/fleet run 9876)",
                      f"{who} (gitlab group/fleet job 55)", f"{who} (jenkins build 12 by bob)",
                      "old@h"]


def test_journal_keeps_a_given_time_and_key_order(target: Target) -> None:
    backend = target.open()
    record = {"time": "2024-05-01T10:00:00Z", "zeta": 1, "alpha": "é"}
    backend.append_journal("prod", record)
    (read,) = backend.read_journal("prod")
    assert read == record and list(read) == ["time", "zeta", "alpha"]


def test_move_renames_state_and_journal(target: Target) -> None:
    backend = target.open()
    written = backend.write(sample_state("prod"))
    backend.append_journal("prod", {"action": "install", "n": 1})
    backend.append_journal("prod", {"action": "upgrade", "n": 2})
    moved = backend.move("prod", "prod/eu")
    assert moved.cluster_name == "prod/eu"
    assert (moved.lineage, moved.serial) == (written.lineage, written.serial)
    assert backend.list() == ["prod/eu"]
    assert backend.read("prod") is None and backend.read_journal("prod") == []
    assert [r["n"] for r in backend.read_journal("prod/eu")] == [1, 2]
    assert backend.list_journals() == ["prod/eu"]
    reread = target.open().read("prod/eu")
    assert reread is not None and reread.addons == written.addons


def test_move_refuses_to_overwrite_and_needs_a_source(target: Target) -> None:
    backend = target.open()
    backend.write(sample_state("prod"))
    backend.write(sample_state("staging"))
    with pytest.raises(StateConflictError, match="staging"):
        backend.move("prod", "staging")
    with pytest.raises(StateConflictError, match="no state"):
        backend.move("nothing-here", "elsewhere")
    assert backend.list() == ["prod", "staging"]


def test_remove_forgets_the_state_and_keeps_the_journal(target: Target) -> None:
    backend = target.open()
    backend.write(sample_state("prod"))
    backend.write(sample_state("staging"))
    backend.append_journal("prod", {"action": "install"})
    backend.remove("prod")
    assert backend.list() == ["staging"] and backend.read("prod") is None
    assert [r["action"] for r in target.open().read_journal("prod")] == ["install"]
    assert target.open().list_journals() == ["prod"]
    # A new lineage may start after removal; its records follow the old ones.
    assert backend.write(sample_state("prod")).serial == 1
    backend.append_journal("prod", {"action": "adopt"})
    assert [r["action"] for r in backend.read_journal("prod")] == ["install", "adopt"]
    backend.remove("prod", with_journal=True)
    assert backend.read("prod") is None and backend.read_journal("prod") == []
    assert backend.list_journals() == []


def test_list_journals_names_every_cluster_with_a_journal(target: Target) -> None:
    backend = target.open()
    assert backend.list_journals() == []
    backend.write(sample_state("no-journal"))
    for name in ("prod/eu", "staging", ".hidden-looking"):
        backend.append_journal(name, {"action": "install"})
        backend.append_journal(name, {"action": "upgrade"})
    assert target.open().list_journals() == sorted(["prod/eu", "staging", ".hidden-looking"])


def test_migrate_into_each_backend_is_verified_and_rerunnable(
    target: Target, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from reconciler.statemgr.local import LocalBackend

    source = LocalBackend(tmp_path_factory.mktemp("source"))
    prod = source.write(sample_state("prod"))
    source.write(sample_state("staging"))
    source.append_journal("prod", {"action": "install"})
    destination = target.open()

    first = migrate(source, destination)
    assert [(m.cluster_name, m.state, m.journal_records_copied) for m in first] == [
        ("prod", "copied", 1),
        ("staging", "copied", 0),
    ]
    assert [m.state for m in migrate(source, destination)] == ["unchanged", "unchanged"]

    source.write(prod)
    source.append_journal("prod", {"action": "upgrade"})
    again = migrate(source, destination)
    assert (again[0].state, again[0].journal_records_copied) == ("updated", 1)
    copied = destination.read("prod")
    assert copied is not None and copied.serial == 2
    assert [r["action"] for r in destination.read_journal("prod")] == ["install", "upgrade"]


def test_migrate_refuses_another_lineage(
    target: Target, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from reconciler.statemgr.local import LocalBackend

    source = LocalBackend(tmp_path_factory.mktemp("source"))
    source.write(sample_state("prod"))
    destination = target.open()
    theirs = destination.write(dataclasses.replace(sample_state("prod"), lineage="theirs"))
    with pytest.raises(StateConflictError, match="refusing to overwrite"):
        migrate(source, destination)
    kept = destination.read("prod")
    assert kept is not None and to_json(kept) == to_json(theirs)


def test_backend_shows_no_credentials(target: Target) -> None:
    backend = target.open()
    shown = f"{backend!r} {backend} {backend.description} {backend.locker.description}"
    assert S3_SECRET_KEY not in shown
    assert all(value not in shown for value in target.env.values())


@pytest.mark.slow
def test_one_backend_serves_parallel_threads(target: Target) -> None:
    """What apply does: one backend, every cluster's lock, writes and journal at once
    from ``asyncio.to_thread`` threads. A connection shared across threads
    (postgres) interleaved their transactions and lost writes."""
    backend = target.open()
    names = [f"cluster-{i:02d}" for i in range(16)]
    errors: list[str] = []
    start = threading.Barrier(len(names))

    def work(name: str) -> None:
        try:
            start.wait(timeout=30)
            with backend.lock(name, "apply", timeout_s=30):
                state = backend.write(sample_state(name))
                for n in range(4):
                    backend.append_journal(name, {"action": "upgrade", "n": n})
                    everest = dataclasses.replace(state.addons["everest"], version=f"2.4.{n}")
                    state = backend.put_addon(state, everest)
                    stored = backend.read(name)
                    assert stored is not None and stored.serial == state.serial
                    assert backend.lock_info(name) is not None
        except BaseException as exc:  # every failure is the finding
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(work, names))
    assert errors == []
    fresh = target.open()
    assert fresh.list() == names
    for name in names:
        stored = fresh.read(name)
        assert stored is not None and stored.serial == 5
        assert stored.addons["everest"].version == "2.4.3"
        assert [r["n"] for r in fresh.read_journal(name)] == [0, 1, 2, 3]
        assert fresh.lock_info(name) is None
