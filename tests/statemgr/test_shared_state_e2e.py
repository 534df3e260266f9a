"""Issue 13, "done when", as a new user tries it: ``RECONCILER_STATE`` names a
remote store (moto's S3 server, a real PostgreSQL), and plan, apply and drift
run as real ``reconciler`` processes from three different directories on one
shared state, against the emulator on a real socket. Nothing is written under
``.reconciler/state``; two concurrent applies can't both run; a saved plan is
bound to the store it was made against; no credential is ever printed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from builders.desired import cluster, desired_yaml
from conftest import S3_SECRET_KEY, Target, target_for

from reconciler.emulator import Emulator, load_scenario
from reconciler.planfile.integrity import plan_digest


def _root_conftest() -> ModuleType:
    # Here ``conftest`` is this directory's; the emulator server is the root one's.
    spec = importlib.util.spec_from_file_location(
        "tests_root_conftest", Path(__file__).parents[1] / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


serve_emulator = _root_conftest().serve_emulator
SCENARIO = Path(__file__).parents[1] / "apply" / "scenario.yaml"
MAIN_ID = "0a000000-0000-4000-8000-000000000001"
MAIN = {"metrics-server": {"version": "1.3.68"}, "volcano": {"version": "1.15.8"}}
FAST = ["--poll-interval", "0.05"]

pytestmark = pytest.mark.slow


@dataclass
class Shared:
    target: Target
    url: str
    """The emulator's endpoint."""
    emulator: Emulator
    env: dict[str, str]

    def run(self, cwd: Path, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        cwd.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
            env=env or self.env, cwd=cwd, timeout=120,
        )
        for secret in (S3_SECRET_KEY, self.emulator.account.secret_key):
            assert secret not in result.stdout + result.stderr
        return result

    def popen(self, cwd: Path, *args: str) -> subprocess.Popen[str]:
        cwd.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=self.env, cwd=cwd,
        )


def _shared(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
            time_scale: float) -> Iterator[Shared]:
    target = target_for(kind, request, tmp_path)
    emulator = Emulator(load_scenario(SCENARIO), time_scale=time_scale)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "HW_", "PG", "RECONCILER_"))}
    env.update(target.env)
    env.update(HW_ACCESS_KEY=emulator.account.access_key,
               HW_SECRET_KEY=emulator.account.secret_key, NO_COLOR="1",
               RECONCILER_STATE=target.url)
    with serve_emulator(emulator) as url:
        yield Shared(target, url, emulator, env)
    target.close_all()


@pytest.fixture(params=["s3", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    yield from _shared(request.param, request, tmp_path, time_scale=40.0)


@pytest.fixture(params=["s3", "postgres"])
def slow_shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shared]:
    # An install takes 4 emulated seconds: 2 s here, long enough to be caught holding the lock.
    yield from _shared(request.param, request, tmp_path, time_scale=2.0)


def _desired(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "desired.yaml"
    path.write_text(desired_yaml({"t-main": cluster(MAIN_ID, MAIN)}), encoding="utf-8")
    return path


def _no_local_state(*dirs: Path) -> None:
    for directory in dirs:
        assert not (directory / ".reconciler" / "state").exists(), directory


def test_plan_apply_and_drift_from_three_directories_share_one_state(
    shared: Shared, tmp_path: Path
) -> None:
    laptop, merge_job, cron = tmp_path / "laptop", tmp_path / "merge", tmp_path / "cron"
    _desired(laptop)
    planned = shared.run(laptop, "plan", "desired.yaml", "--endpoint", shared.url,
                         "--out", "plan.json")
    assert planned.returncode == 0, planned.stderr
    assert "1 to install, 1 to upgrade" in planned.stdout
    plan_text = (laptop / "plan.json").read_text()
    assert S3_SECRET_KEY not in plan_text
    identity = shared.target.open().identity
    assert identity != "local" and f'"state_backend": "{identity}"' in plan_text

    merge_job.mkdir()
    (merge_job / "plan.json").write_text(plan_text)
    applied = shared.run(merge_job, "apply", "plan.json", "--endpoint", shared.url, *FAST)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 installed, 1 upgraded" in applied.stdout

    _desired(cron)
    drift = shared.run(cron, "drift", "desired.yaml", "--endpoint", shared.url)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    # The laptop now plans nothing: it sees what the merge job applied.
    again = shared.run(laptop, "plan", "desired.yaml", "--endpoint", shared.url,
                       "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr

    state = shared.target.open().read("t-main")
    assert state is not None and sorted(state.addons) == ["metrics-server", "volcano"]
    assert [r["action"] for r in shared.target.open().read_journal("t-main")].count("install") == 1
    listed = shared.run(cron, "state", "list")
    assert listed.returncode == 0 and "t-main" in listed.stdout
    _no_local_state(laptop, merge_job, cron)


def test_a_saved_plan_remembers_its_store_and_refuses_only_another_one_named(
    shared: Shared, tmp_path: Path
) -> None:
    """Issue 21: ``plan --state URL --out p.json`` said "apply it with: reconciler
    apply p.json", which was then refused for using local state."""
    _desired(tmp_path / "a")
    local = {k: v for k, v in shared.env.items() if k != "RECONCILER_STATE"}
    # The operator allows the store (a saved plan is untrusted: docs/trust-boundary.md).
    local["RECONCILER_ALLOWED_ENDPOINTS"] = shared.target.url
    planned = shared.run(tmp_path / "a", "plan", "desired.yaml", "--endpoint", shared.url,
                         "--state", shared.target.url, "--out", "plan.json", env=local)
    assert planned.returncode == 0, planned.stderr
    # The hint is the command that works: the plan opens its own store.
    assert "apply it with: reconciler apply plan.json\n" in planned.stderr
    saved = json.loads((tmp_path / "a" / "plan.json").read_text())
    assert saved["state_url"] == shared.target.url
    identity = shared.target.open().identity

    elsewhere = shared.run(tmp_path / "a", "apply", "plan.json", "--endpoint", shared.url,
                           "--state-dir", "other", env=local)
    assert elsewhere.returncode == 1
    assert (f"error: the plan was made against the state in {identity}, but this apply uses"
            " local: give none of --state, RECONCILER_STATE and --state-dir to use the plan's"
            " own store, or plan again against this one") in elsewhere.stderr
    assert shared.target.open().read("t-main") is None

    applied = shared.run(tmp_path / "a", "apply", "plan.json", "--endpoint", shared.url,
                         *FAST, env=local)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 installed, 1 upgraded" in applied.stdout
    assert shared.target.open().read("t-main") is not None
    _no_local_state(tmp_path / "a")


def test_a_saved_plan_naming_an_unknown_store_host_needs_it_confirmed(
    shared: Shared, tmp_path: Path
) -> None:
    """Nothing vouches for a saved plan: a store it names off Huawei Cloud and this
    machine gets no credentials until the operator names it with --state."""
    _desired(tmp_path / "a")
    planned = shared.run(tmp_path / "a", "plan", "desired.yaml", "--endpoint", shared.url,
                         "--out", "plan.json")
    assert planned.returncode == 0, planned.stderr
    path = tmp_path / "a" / "plan.json"
    data = json.loads(path.read_text())
    evil = ("s3://stolen-state/x?endpoint=https://state.attacker.example&region=r"
            if data["state_url"].startswith("s3://") else
            "postgres://reconciler@db.attacker.example:5432/reconciler")
    data["state_url"] = evil
    data["digest"] = plan_digest(data)  # anyone can recompute it
    path.write_text(json.dumps(data))
    local = {k: v for k, v in shared.env.items() if k != "RECONCILER_STATE"}
    refused = shared.run(tmp_path / "a", "apply", "plan.json", "--endpoint", shared.url,
                         env=local)
    assert refused.returncode == 1
    assert "attacker.example" in refused.stderr
    assert "confirm it with --state" in refused.stderr and "Traceback" not in refused.stderr
    _no_local_state(tmp_path / "a")


def test_two_concurrent_applies_cannot_both_run(slow_shared: Shared, tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "one", tmp_path / "two"
    _desired(first_dir), _desired(second_dir)
    args = ("apply", "desired.yaml", "--endpoint", slow_shared.url, "--auto-approve", *FAST)
    first = slow_shared.popen(first_dir, *args)
    try:
        backend = slow_shared.target.open()
        deadline = time.monotonic() + 60
        while backend.lock_info("t-main") is None:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply never took the lock"
            time.sleep(0.05)
        second = slow_shared.run(second_dir, *args)
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, out + err
    assert second.returncode == 1
    # Refused naming the holder: the first apply's process.
    assert "cluster 't-main' is locked in" in second.stdout
    assert f"(pid {first.pid}, apply, since" in second.stdout
    assert "1 installed" not in second.stdout
    assert backend.lock_info("t-main") is None
    _no_local_state(first_dir, second_dir)
