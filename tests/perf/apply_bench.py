"""Benchmark (not a test): apply over 100 clusters, each with a server precheck
and an upgrade, against the emulator in-process at a fast time scale.

Prints the wall time of the 100-cluster apply against the critical path of one
cluster applied alone (precheck + upgrade + wait; target: ≤ 1.3×), and the
busiest polling seen on any one precheck task or instance (target: ≤ 1/s).

    .venv/bin/python tests/perf/apply_bench.py [--clusters 100] [--time-scale 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.apply.waiting import WaitPolicy
from reconciler.cloud import CloudSession, Credentials
from reconciler.emulator import Emulator
from reconciler.emulator.scenario import scenario_from_mapping
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.run.apply import ApplyOptions, apply_plan
from reconciler.run.plan import make_plan
from reconciler.statemgr.local import LocalBackend
from reconciler.views.apply import apply_summary
from reconciler.views.progress import LogProgress

SCENARIO = Path(__file__).parents[1] / "apply" / "scenario.yaml"
ENDPOINT = "https://cce.ap-southeast-1.myhuaweicloud.com"


class RecordingApp:
    """The emulator's app, noting when each precheck task and instance is polled."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.polls: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path, query = scope["path"], scope.get("query_string", b"").decode()
            if "/addons/precheck/tasks" in path:
                self.polls[query].append(time.monotonic())
            elif path.startswith("/api/v3/addons/"):
                self.polls[path].append(time.monotonic())
        await self.emu.app(scope, receive, send)


def scenario(clusters: int) -> Any:
    data = yaml.safe_load(SCENARIO.read_text())
    data["timing"] = {"install_s": 20, "upgrade_s": 20, "rollback_s": 15, "delete_s": 10,
                      "addon_precheck_init_s": 2, "addon_precheck_run_s": 6,
                      "cluster_precheck_init_s": 2, "cluster_precheck_run_s": 12}
    ids = [str(uuid.UUID(int=n + 1, version=4)) for n in range(clusters)]
    data["clusters"] = [{"id": cid, "name": f"bench-{n:03d}", "version": "v1.29"}
                        for n, cid in enumerate(ids)]
    data["instances"] = [{"id": str(uuid.UUID(int=10_000 + n, version=4)),
                          "cluster": f"bench-{n:03d}", "template": "metrics-server",
                          "version": "1.3.60"} for n in range(clusters)]
    data["precheck_rules"], data["failure_rules"] = [], []
    return scenario_from_mapping(data, str(SCENARIO)), ids


async def run(clusters: int, time_scale: float) -> dict[str, float]:
    loaded, ids = scenario(clusters)
    emu = Emulator(loaded, time_scale=time_scale)
    app = RecordingApp(emu)
    project = emu.account.project_id
    desired = DesiredState(clusters=tuple(
        ClusterSpec(name=f"bench-{n:03d}", cluster_id=cid, region="ap-southeast-1",
                    project_id=project, endpoint=ENDPOINT,
                    addons=(AddonSpec(name="metrics-server", version="1.3.68"),))
        for n, cid in enumerate(ids)))
    credentials = Credentials(access_key=emu.account.access_key,
                              secret_key=emu.account.secret_key, project_id=project)
    options = ApplyOptions(parallelism=clusters, wait=WaitPolicy(poll_interval_s=1.0))
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalBackend(Path(tmp) / "state")
        async with CloudSession(concurrency=2 * clusters, credentials=credentials,
                                transport=httpx.ASGITransport(app=app)) as session:
            planned = await make_plan(desired, session, store)
            started = time.monotonic()
            result = await apply_plan(planned.plan, session, store, salts=planned.salts,
                                      options=options, progress=LogProgress(io.StringIO()))
            wall = time.monotonic() - started
    assert result.ok, apply_summary(result)
    gaps = [b - a for times in app.polls.values() for a, b in itertools.pairwise(times)]
    return {
        "wall_s": wall,
        "slowest_cluster_s": max(c.elapsed_s for c in result.clusters),
        "max_polls_per_s_per_target": 1 / min(gaps) if gaps else 0.0,
        "upgraded": float(sum(1 for c in result.clusters for r in c.addons
                              if r.outcome.value == "upgraded")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=5.0)
    args = parser.parse_args()
    alone = asyncio.run(run(1, args.time_scale))
    many = asyncio.run(run(args.clusters, args.time_scale))
    ratio = many["wall_s"] / alone["wall_s"]
    print(f"time scale {args.time_scale:g}: precheck 8 s and upgrade 20 s emulated"
          f" ({8 / args.time_scale:.1f} s + {20 / args.time_scale:.1f} s real), polling every 1 s")
    print(f"one cluster alone (critical path): {alone['wall_s']:.2f} s")
    print(f"{args.clusters} clusters, parallelism {args.clusters}: wall {many['wall_s']:.2f} s,"
          f" slowest cluster {many['slowest_cluster_s']:.2f} s,"
          f" {many['upgraded']:.0f} upgraded")
    print(f"wall / critical path: {ratio:.2f}x (target <= 1.3x)")
    print(f"busiest polling of one task or instance: {many['max_polls_per_s_per_target']:.2f}"
          " requests/s (target <= 1)")


if __name__ == "__main__":
    main()
