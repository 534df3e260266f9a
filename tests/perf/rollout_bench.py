"""Benchmark (not a test): a rollout over 100 generated clusters in three waves
with a soak, against the emulator in-process at a fast time scale.

Each cluster gets one update (coredns values, so a precheck-free PUT and a
health wait). Prints the wall time of the rollout against the sum over waves
of (slowest cluster's apply + soak), the floor a wave-by-wave run cannot beat;
target: ≤ 1.2×.

    .venv/bin/python tests/perf/rollout_bench.py [--clusters 100] [--time-scale 10] [--soak 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import tempfile
import time
from pathlib import Path

import httpx

from reconciler.apply.waiting import WaitPolicy
from reconciler.cloud import CloudSession, Credentials
from reconciler.emulator import Emulator, generate_scenario
from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.model.rollout import Rollout, Wave
from reconciler.run.apply import ApplyOptions
from reconciler.run.plan import make_plan
from reconciler.run.rollout import RolloutOptions, apply_rollout
from reconciler.statemgr.local import LocalBackend
from reconciler.views.apply import apply_summary
from reconciler.views.progress import LogProgress
from reconciler.views.rollout import WaveLines, rollout_text

ENDPOINT = "https://cce.ap-southeast-1.myhuaweicloud.com"


async def run(clusters: int, time_scale: float, soak_s: float) -> dict[str, float]:
    scenario = generate_scenario(clusters, addons_per_cluster=2)
    emu = Emulator(scenario, time_scale=time_scale)
    project = emu.account.project_id
    desired = DesiredState(clusters=tuple(
        ClusterSpec(name=c.name, cluster_id=c.id, region="ap-southeast-1", project_id=project,
                    endpoint=ENDPOINT,
                    addons=(AddonSpec(name="coredns", values={
                        "custom": {"upstream_nameservers": ["10.0.0.9"]}}),))
        for c in scenario.clusters))
    # Waves by name: the first 10% canaries, 40% more, then the rest (at any size).
    names = [c.name for c in scenario.clusters]
    canary, early = max(1, clusters // 10), max(1, clusters * 4 // 10)
    rollout = Rollout(waves=(
        Wave("canary", tuple(names[:canary]), soak_s=soak_s),
        Wave("early", tuple(names[canary:canary + early]), soak_s=soak_s),
        Wave("rest", soak_s=soak_s),
    ))
    credentials = Credentials(access_key=emu.account.access_key,
                              secret_key=emu.account.secret_key, project_id=project)
    options = ApplyOptions(parallelism=clusters, wait=WaitPolicy(poll_interval_s=1.0))
    log = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalBackend(Path(tmp) / "state")
        async with CloudSession(concurrency=2 * clusters, credentials=credentials,
                                transport=httpx.ASGITransport(app=emu.app)) as session:
            planned = await make_plan(desired, session, store)
            plan = dataclasses.replace(planned.plan, rollout=rollout)
            started = time.monotonic()
            result = await apply_rollout(plan, session, store, salts=planned.salts,
                                         options=options, rollout_options=RolloutOptions(),
                                         progress=LogProgress(log), waves_progress=WaveLines(log))
            wall = time.monotonic() - started
    assert result.ok, rollout_text(result) + apply_summary(result.apply)
    by_wave = {w.name: set(w.clusters) for w in result.waves}
    floor = 0.0
    for w in result.waves:
        slowest = max((c.elapsed_s for c in result.apply.clusters if c.name in by_wave[w.name]),
                      default=0.0)
        floor += slowest + w.soak_s
    return {"wall_s": wall, "floor_s": floor,
            "updated": float(sum(1 for c in result.apply.clusters for r in c.addons
                                 if r.outcome.value == "updated")),
            **{f"wave_{w.name}_s": w.elapsed_s for w in result.waves}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--soak", type=float, default=3.0)
    args = parser.parse_args()
    found = asyncio.run(run(args.clusters, args.time_scale, args.soak))
    ratio = found["wall_s"] / found["floor_s"]
    print(f"{args.clusters} clusters in 3 waves (10%/40%/rest), soak {args.soak:g} s each,"
          f" time scale {args.time_scale:g}: {found['updated']:.0f} updated")
    print("per wave: " + ", ".join(f"{k[5:-2]} {v:.2f} s" for k, v in found.items()
                                   if k.startswith("wave_")))
    print(f"wall {found['wall_s']:.2f} s; sum over waves of (slowest cluster + soak)"
          f" {found['floor_s']:.2f} s")
    print(f"wall / floor: {ratio:.2f}x ({'within' if ratio <= 1.2 else 'OVER'} the 1.2x target)")


if __name__ == "__main__":
    main()
