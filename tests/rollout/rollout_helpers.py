"""Shared pieces of the rollout tests: the six-cluster scenario, its waves, a run.

Until the config branch parses a ``rollout:`` block, the waves are put on the
plan the way apply gets them (``Plan.rollout``) after ``make_plan``.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from builders.desired import cluster, desired_yaml
from builders.desired import secret as secret_ref

from reconciler.apply.waiting import WaitPolicy
from reconciler.cloud import CloudSession, Credentials, RetryPolicy
from reconciler.config import load_desired
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario.loader import load_rules
from reconciler.model.apply import AddonResult, ClusterResult
from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.model.rollout_result import RolloutResult, WaveResult
from reconciler.model.trust import EnvRule
from reconciler.run.apply import ApplyOptions
from reconciler.run.plan import make_plan
from reconciler.run.rollout import RolloutOptions, apply_rollout
from reconciler.statemgr.backend import StateBackend
from reconciler.views.progress import LogProgress
from reconciler.views.rollout import WaveLines

HERE = Path(__file__).parent
SCENARIO = HERE / "scenario.yaml"
BAD_PROD_2 = HERE / "bad-prod-2.rules.yaml"
TIME_SCALE = 40.0
"""Emulated seconds per real second: an upgrade (4 s) takes 0.1 s."""
POLL_S = 0.05
SECRET = "ROLLOUT-SECRET-MARKER-7f3a9c"
"""The value of ``secret('ROLLOUT_TOKEN')``: must never reach a journal or report."""
ALLOW_ENV = EnvRule(("ROLLOUT_TOKEN",))
"""The operator allows the files' one secret (``--allow-env ROLLOUT_TOKEN``)."""

CLUSTER_IDS = {
    "r-canary": "0c000000-0000-4000-8000-000000000001",
    "r-prod-1": "0c000000-0000-4000-8000-000000000002",
    "r-prod-2": "0c000000-0000-4000-8000-000000000003",
    "r-prod-3": "0c000000-0000-4000-8000-000000000004",
    "r-rest-1": "0c000000-0000-4000-8000-000000000005",
    "r-rest-2": "0c000000-0000-4000-8000-000000000006",
}
INSTANCE_IDS = {name: f"1c000000-0000-4000-8000-00000000000{n}"
                for n, name in enumerate(CLUSTER_IDS, start=1)}
REST = ("r-rest-1", "r-rest-2")


def waves(*, soak_s: float = 0.5, prod: Mapping[str, Any] | None = None,
          pause: PauseMode = PauseMode.NONE) -> Rollout:
    """canary (r-canary) → prod (r-prod-*, ``prod`` overrides) → rest (the others)."""
    return Rollout(waves=(
        Wave("canary", ("r-canary",), soak_s=soak_s),
        Wave("prod", ("r-prod-*",), **{"soak_s": soak_s, **(prod or {})}),
        Wave("rest", soak_s=soak_s),
    ), pause=pause)


class RecordingApp:
    """The emulator's app, keeping every request that is not a read."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.writes: list[str] = []
        self.lists: dict[str, list[float]] = {}
        """Cluster id → when its instances were listed."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            query = scope.get("query_string", b"").decode() if scope["type"] == "http" else ""
            if scope["type"] == "http" and scope["path"] == "/api/v3/addons" \
                    and query.startswith("cluster_id="):
                self.lists.setdefault(query.split("=", 1)[1], []).append(time.monotonic())
            await self.emu.app(scope, receive, send)
            return
        body = b""

        async def keep() -> Any:
            nonlocal body
            message = await receive()
            body += message.get("body", b"")
            return message

        await self.emu.app(scope, keep, send)
        self.writes.append(f"{scope['method']} {scope['path']}?"
                           f"{scope.get('query_string', b'').decode()} {body.decode()}")

    def writes_to(self, name: str) -> list[str]:
        return [w for w in self.writes if CLUSTER_IDS[name] in w or INSTANCE_IDS[name] in w]


def new_emulator(tmp_path: Path, *, rules: Path | None = None) -> Emulator:
    """The scenario (with ``rules``, like ``emulator serve --rules``), its instances
    kept in ``tmp_path`` so that a restart without the rules carries on."""
    scenario = load_scenario(SCENARIO)
    if rules is not None:
        scenario = load_rules(rules, scenario)
    return Emulator(scenario, time_scale=TIME_SCALE, state_file=tmp_path / "emulator.json")


def session_for(app: RecordingApp) -> CloudSession:
    account = app.emu.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key,
                              project_id=account.project_id, region="ap-southeast-1")
    retry = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=0.05,
                        max_retry_after_s=0.05)
    return CloudSession(concurrency=20, credentials=credentials, retry=retry,
                        transport=httpx.ASGITransport(app=app))


def desired_file(tmp_path: Path) -> Path:
    """Every cluster: metrics-server 1.3.68 with a secret in its values."""
    addons = {"metrics-server": {"version": "1.3.68",
                                 "values": {"custom": {"token": secret_ref("ROLLOUT_TOKEN")}}}}
    path = tmp_path / "fleet.yaml"
    path.write_text(desired_yaml({name: cluster(cid, addons)
                                  for name, cid in CLUSTER_IDS.items()}), encoding="utf-8")
    return path


def apply_options(**overrides: Any) -> ApplyOptions:
    wait = WaitPolicy(timeout_s=10.0, poll_interval_s=POLL_S, abnormal_grace_s=1.0)
    return ApplyOptions(wait=wait, precheck_timeout_s=10.0, **overrides)


class ActiveClusters:
    """A ``Progress`` that counts the clusters being applied at once (and keeps a log)."""

    def __init__(self) -> None:
        self.log = io.StringIO()
        self.lines = LogProgress(self.log)
        self.active: set[str] = set()
        self.seen: list[frozenset[str]] = []
        """The clusters in progress, after each step reported."""

    def step(self, cluster: str, text: str) -> None:
        self.active.add(cluster)
        self.seen.append(frozenset(self.active))
        self.lines.step(cluster, text)

    def addon_done(self, result: AddonResult) -> None:
        self.lines.addon_done(result)

    def cluster_done(self, result: ClusterResult) -> None:
        self.active.discard(result.name)
        self.lines.cluster_done(result)

    def close(self) -> None:
        return None


async def run_rollout(app: RecordingApp, store: StateBackend, path: Path, rollout: Rollout,
                      *, progress: ActiveClusters | None = None,
                      **ropts: Any) -> tuple[RolloutResult, str]:
    """Plan ``path`` now, put ``rollout`` on the plan, apply it; the result and
    the progress log (apply lines and wave lines)."""
    desired = load_desired([path], environ={"ROLLOUT_TOKEN": SECRET}, allowed_env=ALLOW_ENV)
    progress = progress or ActiveClusters()
    async with session_for(app) as session:
        planned = await make_plan(desired, session, store)
        plan = dataclasses.replace(planned.plan, rollout=rollout)
        result = await apply_rollout(
            plan, session, store, salts=planned.salts,
            options=apply_options(environ={"ROLLOUT_TOKEN": SECRET}),
            rollout_options=RolloutOptions(**{"soak_poll_s": 0.2, **ropts}),
            progress=progress, waves_progress=WaveLines(progress.log),
        )
    return result, progress.log.getvalue()


def live_versions(emu: Emulator) -> dict[str, tuple[str, str]]:
    """Cluster → (metrics-server version, status), as the emulator has them now."""
    found = {}
    for name, cid in CLUSTER_IDS.items():
        (instance,) = emu.store.list_instances(cid, time.time())
        found[name] = (instance.version, instance.status)
    return found


def wave(result: RolloutResult, name: str) -> WaveResult:
    return next(w for w in result.waves if w.name == name)


def journal_kinds(store: StateBackend, cluster_name: str) -> list[tuple[str, str, str]]:
    """(action, wave, result) of the cluster's rollout journal records."""
    return [(r["action"], r.get("wave", ""), r["result"]) for r in store.read_journal(cluster_name)
            if "wave" in r]

