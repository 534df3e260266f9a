"""``--notify`` as a user runs it: a real ``reconciler`` process, the emulator on a
socket, and a local HTTP receiver taking apprise's ``json://`` and the signed
``hmac+http://`` webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from builders.desired import cluster, desired_yaml
from conftest import serve_emulator

import reconciler.notify
from reconciler.emulator import Emulator
from tests.rollout.rollout_helpers import (
    BAD_PROD_2,
    CLUSTER_IDS,
    SECRET,
    desired_file,
    new_emulator,
)
from tests.rollout.test_rollout_cli import FAST, env_for, fleet

from .receiver import Receiver, receiver

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

HMAC_KEY = "HMAC-KEY-MARKER-5d1e0b"


def run(emu: Emulator, url: str, tmp_path: Path, command: str, *args: str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    extra = FAST if command == "apply" else []
    return subprocess.run(
        [sys.executable, "-m", "reconciler", command, *args, "--endpoint", url, *extra,
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**env_for(emu), "RECONCILER_NOTIFY_HMAC_KEY": HMAC_KEY, **(env or {})})


def targets(rx: Receiver) -> list[str]:
    return ["--notify", f"json://{rx.url}/apprise", "--notify", f"hmac+http://{rx.url}/hook"]


SCHEMA = json.loads((Path(reconciler.notify.__file__).parent / "notification.schema.json")
                    .read_text())


def webhook_events(rx: Receiver) -> list[dict[str, Any]]:
    """The webhook's bodies, each checked against the shipped JSON Schema."""
    events = [r.json() for r in rx.at("/hook")]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    return events


def assert_no_secret(rx: Receiver) -> None:
    for r in rx.got:
        text = r.body.decode() + json.dumps(r.headers)
        assert SECRET not in text
        assert HMAC_KEY not in text


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Emulator, str]]:
    emu = new_emulator(tmp_path)
    with serve_emulator(emu) as url:
        yield emu, url


def test_a_three_wave_rollout_sends_one_message_per_wave_event_signed(
        tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    with receiver() as rx:
        done = run(emu, url, tmp_path, "apply", str(fleet(tmp_path, soak="0s")), *targets(rx))
        assert done.returncode == 0, done.stderr
        events = webhook_events(rx)
        assert [(e["event"], e.get("wave")) for e in events] == [
            ("wave.started", "canary"), ("wave.done", "canary"),
            ("wave.started", "prod"), ("wave.done", "prod"),
            ("wave.started", "rest"), ("wave.done", "rest"),
            ("apply.finished", None)]
        for r in rx.at("/hook"):
            expected = hmac.new(HMAC_KEY.encode(), r.body, hashlib.sha256).hexdigest()
            assert r.headers["X-Signature"] == f"sha256={expected}"
            assert r.headers["Content-Type"] == "application/json"
        finished = events[-1]
        assert finished["ok"] is True and finished["clusters"] == 6
        assert finished["counts"] == {"done": 6, "failed": 0, "blocked": 0, "skipped": 0}
        assert finished["failed_clusters"] == []
        assert finished["rollout"] == {"stop": "completed", "next_wave": "", "halted_wave": ""}
        assert events[3]["changed"] == ["r-prod-1", "r-prod-2", "r-prod-3"]
        # apprise's json:// gets the same events, as title and text.
        chat = [r.json() for r in rx.at("/apprise")]
        assert len(chat) == 7
        assert chat[0]["title"].startswith("reconciler rollout: wave canary started")
        assert chat[-1]["title"] == ("reconciler apply succeeded: 6 done, 0 failed,"
                                     " 0 blocked on 6 clusters")
        assert_no_secret(rx)


def test_a_halted_wave_says_which_cluster_failed_and_the_rollout_stops(
        tmp_path: Path) -> None:
    emu = new_emulator(tmp_path, rules=BAD_PROD_2)
    with serve_emulator(emu) as url, receiver() as rx:
        done = run(emu, url, tmp_path, "apply", str(fleet(tmp_path, soak="0s")), *targets(rx))
        assert done.returncode == 1, done.stderr
        events = webhook_events(rx)
        assert [(e["event"], e.get("wave")) for e in events] == [
            ("wave.started", "canary"), ("wave.done", "canary"),
            ("wave.started", "prod"), ("wave.halted", "prod"), ("apply.finished", None)]
        halted = events[3]
        assert halted["failed_clusters"] == ["r-prod-2"]
        assert halted["failures"][0]["cluster"] == "r-prod-2"
        assert events[-1]["ok"] is False and events[-1]["failed_clusters"] == ["r-prod-2"]
        assert events[-1]["rollout"]["halted_wave"] == "prod"
        assert rx.at("/apprise")[3].json()["title"].startswith(
            "reconciler rollout HALTED at wave prod: 1 cluster failed")
        assert_no_secret(rx)


def test_drift_notifies_found_then_stays_quiet_then_cleared(
        tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    path = desired_file(tmp_path)
    with receiver() as rx:
        first = run(emu, url, tmp_path, "drift", str(path), *targets(rx))
        assert first.returncode == 2, first.stderr
        (found,) = webhook_events(rx)
        assert found["event"] == "drift.found" and found["reminder"] is False
        assert len(found["drifted"]) == 6 and found["errored"] == []
        second = run(emu, url, tmp_path, "drift", str(path), *targets(rx))
        assert second.returncode == 2
        assert len(webhook_events(rx)) == 1, "unchanged drift must not notify again"
        applied = run(emu, url, tmp_path, "apply", str(path))
        assert applied.returncode == 0, applied.stderr
        third = run(emu, url, tmp_path, "drift", str(path), *targets(rx))
        assert third.returncode == 0, third.stderr
        events = webhook_events(rx)
        assert [e["event"] for e in events] == ["drift.found", "drift.cleared"]
        assert events[1]["drifted"] == []
        assert len(rx.at("/apprise")) == 2
        assert_no_secret(rx)


def test_drift_reminds_with_notify_repeat(tmp_path: Path,
                                          served: tuple[Emulator, str]) -> None:
    emu, url = served
    path = desired_file(tmp_path)
    with receiver() as rx:
        for _ in range(2):
            run(emu, url, tmp_path, "drift", str(path), "--notify", f"hmac+http://{rx.url}/hook",
                "--notify-repeat", "0s")
        events = webhook_events(rx)
        assert [(e["event"], e["reminder"]) for e in events] == [
            ("drift.found", False), ("drift.found", True)]


def test_an_errored_cluster_is_in_the_same_message_as_the_drift(
        tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    addons = {"metrics-server": {"version": "1.3.68"}}
    clusters = {name: cluster(cid, addons) for name, cid in CLUSTER_IDS.items()}
    clusters["r-gone"] = cluster("0c000000-0000-4000-8000-0000000000ff", addons)
    path = tmp_path / "fleet.yaml"
    path.write_text(desired_yaml(clusters), encoding="utf-8")
    with receiver() as rx:
        done = run(emu, url, tmp_path, "drift", str(path), *targets(rx))
        assert done.returncode == 1, done.stderr
        assert len(webhook_events(rx)) == 1, done.stderr + done.stdout
        (event,) = webhook_events(rx)
        assert event["event"] == "drift.found"
        assert len(event["drifted"]) == 6
        assert event["errored"] == [{"cluster": "r-gone", "errors": 1}]
        assert "1 cluster not checked" in str(event["text"])


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failing_receiver_is_a_warning_and_a_journal_line(
        tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    port = _refused_port()
    with receiver(status=500) as rx:
        done = run(emu, url, tmp_path, "apply", str(desired_file(tmp_path)),
                   "--cluster", "r-canary", "--notify", f"hmac+http://{rx.url}/hook",
                   "--notify", f"json://127.0.0.1:{port}/")
        assert done.returncode == 0, done.stderr
        assert len(rx.at("/hook")) == 1
    assert "warning: notification apply.finished not delivered: hmac+http://127.0.0.1:" \
           in done.stderr and "HTTP 500" in done.stderr
    assert f"json://127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    journal = (tmp_path / "state").glob("*journal*")
    lines = "".join(p.read_text() for p in journal)
    assert '"action":"notify-failed"' in lines.replace(" ", "")
    assert HMAC_KEY not in done.stderr + lines


def test_a_hung_receiver_is_cut_off_by_the_timeout(tmp_path: Path,
                                                   served: tuple[Emulator, str]) -> None:
    emu, url = served
    with socket.socket() as hung:  # accepts the connection, never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        done = run(emu, url, tmp_path, "drift", str(desired_file(tmp_path)),
                   "--notify", f"hmac+http://127.0.0.1:{port}/hook", "--notify-timeout", "0.5")
    assert done.returncode == 2, done.stderr
    assert "not delivered" in done.stderr and "0.5s" in done.stderr


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--notify", "hmac+https://hooks.example/x"], {"RECONCILER_NOTIFY_HMAC_KEY": ""},
     "the environment variable RECONCILER_NOTIFY_HMAC_KEY, which is not set"),
    (["--notify", "nosuchservice://token@x"], {}, "not an Apprise URL that can be used"),
    (["--notify", "hooks.example/x"], {}, "not a URL"),
])
def test_a_bad_target_is_one_error_before_anything_runs(
        tmp_path: Path, served: tuple[Emulator, str], args: list[str], env: dict[str, str],
        message: str) -> None:
    emu, url = served
    done = run(emu, url, tmp_path, "apply", str(desired_file(tmp_path)), *args, env=env)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert "token" not in done.stderr
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").iterdir())


def test_reconciler_notify_takes_urls_separated_by_commas_or_spaces(
        tmp_path: Path, served: tuple[Emulator, str]) -> None:
    emu, url = served
    with receiver() as rx:
        env = {"RECONCILER_NOTIFY": f"json://{rx.url}/a, hmac+http://{rx.url}/b\n"
                                    f" json://{rx.url}/c"}
        done = run(emu, url, tmp_path, "drift", str(desired_file(tmp_path)), env=env)
        assert done.returncode == 2, done.stderr
        assert sorted(r.path for r in rx.got) == ["/a", "/b", "/c"]
    assert os.environ.get("RECONCILER_NOTIFY") is None
