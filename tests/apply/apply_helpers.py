"""Shared pieces of the apply tests: the emulator scenario, sessions, desired files."""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
from builders.desired import DEFAULTS, Addons, cluster, desired_yaml

from reconciler.apply.waiting import WaitPolicy
from reconciler.cloud import CloudSession, Credentials, RetryPolicy
from reconciler.config import load_desired
from reconciler.emulator import Emulator, load_scenario
from reconciler.model.apply import ApplyResult
from reconciler.model.plan import Plan
from reconciler.model.trust import EnvRule
from reconciler.run.apply import ApplyOptions, apply_plan
from reconciler.run.plan import PlanResult, make_plan
from reconciler.statemgr import Journal
from reconciler.statemgr.local import LocalBackend
from reconciler.views.progress import LogProgress

SCENARIO = Path(__file__).with_name("scenario.yaml")
ENDPOINT = DEFAULTS["endpoint"]
PROJECT = DEFAULTS["project_id"]
MAIN_ID = "0a000000-0000-4000-8000-000000000001"
FATAL_ID = "0a000000-0000-4000-8000-000000000002"
TIME_SCALE = 40.0
"""Emulated seconds per real second: an install (4 s) takes 0.1 s."""
POLL_S = 0.05

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=0.05,
                         max_retry_after_s=0.05)


def new_emulator(time_scale: float = TIME_SCALE) -> Emulator:
    return Emulator(load_scenario(SCENARIO), time_scale=time_scale)


def credentials(emu: Emulator) -> Credentials:
    return Credentials(access_key=emu.account.access_key, secret_key=emu.account.secret_key,
                       project_id=emu.account.project_id, region="ap-southeast-1")


def session_for(emu: Emulator) -> CloudSession:
    return CloudSession(concurrency=20, credentials=credentials(emu), retry=FAST_RETRY,
                        transport=httpx.ASGITransport(app=emu.app))


def desired_file(tmp_path: Path, addons: Addons | None = None, *,
                 clusters: Mapping[str, Mapping[str, Any]] | None = None,
                 name: str = "desired.yaml") -> Path:
    """A desired-state file for the test scenario: ``addons`` of t-main, or
    ``clusters`` (name → ``cluster(...)``)."""
    if clusters is None:
        clusters = {"t-main": cluster(MAIN_ID, addons or {})}
    path = tmp_path / name
    path.write_text(desired_yaml(clusters), encoding="utf-8")
    return path


class DesiredFiles(Protocol):
    """The ``desired`` fixture (tests/apply/conftest.py)."""

    def __call__(
        self,
        addons: Any = None,
        *,
        clusters: Any = None,
        name: str = "desired.yaml",
    ) -> Path: ...


def options(**overrides: Any) -> ApplyOptions:
    wait = WaitPolicy(timeout_s=overrides.pop("timeout_s", 10.0), poll_interval_s=POLL_S,
                      abnormal_grace_s=overrides.pop("abnormal_grace_s", 1.0))
    return ApplyOptions(wait=wait, precheck_timeout_s=overrides.pop("precheck_timeout_s", 10.0),
                        **overrides)


async def plan(session: CloudSession, store: LocalBackend, path: Path,
               environ: Mapping[str, str] | None = None) -> PlanResult:
    # The variables the test hands in are the ones its operator allows.
    desired = load_desired([path], environ=environ, allowed_env=EnvRule(tuple(environ or ())))
    return await make_plan(desired, session, store)


async def plan_and_apply(session: CloudSession, store: LocalBackend, path: Path,
                         environ: Mapping[str, str] | None = None,
                         **opts: Any) -> tuple[Plan, ApplyResult, str]:
    """Plan ``path`` and apply the plan; returns the plan, result and progress log."""
    planned = await plan(session, store, path, environ)
    log = io.StringIO()
    result = await apply_plan(planned.plan, session, store, salts=planned.salts,
                              options=options(**opts), progress=LogProgress(log))
    return planned.plan, result, log.getvalue()


def journal(store: LocalBackend, cluster: str) -> list[dict[str, Any]]:
    return Journal(store.state_dir, cluster).read()


def live(emu: Emulator, cluster_id: str) -> dict[str, tuple[str, str]]:
    """Template → (version, status) of the cluster's instances, as the emulator sees them now."""
    return {i.template: (i.version, i.status)
            for i in emu.store.list_instances(cluster_id, time.time())}


def actions(p: Plan, cluster: str) -> dict[str, str]:
    cp = next(c for c in p.clusters if c.name == cluster)
    return {c.addon: c.action.value for c in cp.changes}


def names(items: Sequence[Any]) -> list[str]:
    return [getattr(i, "addon", "") for i in items]
