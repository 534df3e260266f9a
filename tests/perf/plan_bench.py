"""Benchmark: `plan` over N clusters x 8 add-ons against the emulator on a socket.

Not a test (no assertions on timing): it prints the figures DESIGN.md section 12
asks for. The emulator runs in a child process (uvicorn on 127.0.0.1) with
injected latency, so this process's peak RSS is the planner's own.

    .venv/bin/python tests/perf/plan_bench.py            # 100 and 1,000 clusters
    .venv/bin/python tests/perf/plan_bench.py 10000      # any sizes
    .venv/bin/python tests/perf/plan_bench.py 1000 --sdk-sample 50

Figures per size: wall time of the refresh+plan, requests made, the ideal
(requests / concurrency x latency) and the ratio; the refresh alone; client
and emulator CPU per request; CPU per unchanged add-on spent comparing (the
pure planner), for a managed no-op and for a first run's adopt; peak memory;
and the time a sequential loop over the official SDK takes for the same reads
(measured on a sample of clusters, extrapolated), with the speed-up.

Concurrency is what a user gets: ``plan --parallelism P`` runs with
CloudSession(concurrency=2P), and P defaults to 10, so the figures are for 20
requests in flight (``--parallelism`` changes it). The desired state matches
the live state and there is no state file, as on a first plan: every add-on
is an adopt without field changes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

LATENCY_MS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(clusters: int, port: int, desired_path: str, ready: mp.Queue) -> None:  # type: ignore[type-arg]
    import uvicorn

    from reconciler.emulator import Emulator, Faults, generate_scenario

    scenario = generate_scenario(clusters)
    emu = Emulator(scenario, faults=Faults(latency_ms=LATENCY_MS))
    # The desired state says exactly what runs: every add-on is unchanged.
    lines = [
        "apiVersion: reconciler/v1",
        "defaults:",
        "  region: ap-southeast-1",
        f"  project_id: {emu.account.project_id}",
        f"  endpoint: http://127.0.0.1:{port}",
        "clusters:",
    ]
    by_cluster: dict[str, list[tuple[str, str]]] = {}
    for inst in scenario.instances:
        by_cluster.setdefault(inst.cluster_id, []).append((inst.template, inst.version))
    for cluster in scenario.clusters:
        lines += [f"  {cluster.name}:", f"    cluster_id: {cluster.id}", "    addons:"]
        for template, version in by_cluster.get(cluster.id, []):
            lines += [f"      {template}:", f'        version: "{version}"']
    Path(desired_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Encode every instance once before the clock starts: a real CCE has no
    # such warm-up, and the emulator's cost is the rig's, not the planner's.
    for inst in list(emu.store.instances.values()):
        emu.encoded_instance(inst)
    ready.put(emu.account.token)
    uvicorn.run(emu.app, host="127.0.0.1", port=port, log_level="warning",
                backlog=4096, timeout_keep_alive=60)


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _managed(live: object) -> object:
    """The state file an earlier apply would have left: every live add-on managed."""
    from reconciler.model.live import LiveCluster
    from reconciler.model.state import ManagedAddon, StateFile

    assert isinstance(live, LiveCluster)
    return StateFile(
        lineage="bench", serial=1, cluster_name="", cluster_id=live.cluster.id,
        addons={i.template_name: ManagedAddon(name=i.template_name, uid=i.uid,
                                               version=i.version, values=i.values,
                                               values_digest="", applied_at="")
                for i in live.instances})


async def _plan(desired_path: Path, token: str, concurrency: int,
                server_pid: int) -> dict[str, float]:
    from reconciler.cloud import CloudSession, Credentials
    from reconciler.config import load_desired
    from reconciler.engine import plan_changes
    from reconciler.model.plan import Action
    from reconciler.run.plan import make_plan
    from reconciler.run.refresh import read_states, refresh
    from reconciler.statemgr.local import LocalBackend

    t0 = time.perf_counter()
    desired = load_desired([desired_path], environ={})
    load_s = time.perf_counter() - t0
    store = LocalBackend(Path(tempfile.mkdtemp()) / "state")
    creds = Credentials(token=token)
    async with CloudSession(concurrency=concurrency, credentials=creds) as session:
        server0, t0, c0 = _cpu_s(server_pid), time.perf_counter(), time.process_time()
        result = await make_plan(desired, session, store)
        wall = time.perf_counter() - t0
        client_cpu, server_cpu = time.process_time() - c0, _cpu_s(server_pid) - server0
        requests = session.request_count
        # Peak of the plan itself (before this script holds a second copy).
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # CPU of the pure comparison alone, on the same live data.
        t0 = time.perf_counter()
        refreshed = await refresh(desired, session)
        refresh_s = time.perf_counter() - t0
    states, _ = read_states(desired, store)
    templates = next(iter(refreshed.templates.values()))
    assert isinstance(templates, dict)
    c0 = time.process_time()
    again = plan_changes(desired, refreshed.live, templates, states,
                         plan_id="bench", tool_version="bench")
    adopt_cpu = time.process_time() - c0
    addons = sum(len(cp.changes) for cp in again.clusters)
    # Steady state: every add-on already managed (in a state file) and unchanged.
    managed = {spec.name: _managed(refreshed.live[spec.name]) for spec in desired.clusters}
    c0 = time.process_time()
    steady = plan_changes(desired, refreshed.live, templates, managed,  # type: ignore[arg-type]
                          plan_id="bench", tool_version="bench")
    cpu = time.process_time() - c0
    noops = sum(1 for cp in steady.clusters for ch in cp.changes if ch.action is Action.NOOP)
    changed = sum(1 for cp in result.plan.clusters for ch in cp.changes
                  if ch.action not in (Action.NOOP, Action.ADOPT) or ch.field_changes)
    return {"load_s": load_s, "wall_s": wall, "requests": requests, "addons": addons,
            "cpu_s": cpu, "adopt_cpu_s": adopt_cpu, "noops": noops, "changed": changed,
            "client_cpu_s": client_cpu, "refresh_s": refresh_s, "server_cpu_s": server_cpu,
            "peak_mb": peak_mb,
            "errors": sum(len(cp.errors) for cp in result.plan.clusters)}


def _sdk_sequential(port: int, token: str, project_id: str, cluster_ids: list[str]) -> float:
    """The same reads with the official SDK, one after another."""
    from huaweicloudsdkcce.v3 import (
        CceClient,
        ListAddonInstancesRequest,
        ListAddonTemplatesRequest,
        ShowClusterRequest,
    )
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    # The SDK signs with AK/SK; the emulator's generated scenario uses the demo keys.
    from reconciler.emulator import demo_scenario_path, load_scenario

    account = load_scenario(demo_scenario_path()).account
    assert account is not None
    creds = BasicCredentials(account.access_key, account.secret_key, project_id)
    client = CceClient.new_builder().with_credentials(creds) \
        .with_endpoints([f"http://127.0.0.1:{port}"]).build()
    t0 = time.perf_counter()
    client.list_addon_templates(ListAddonTemplatesRequest())
    for cid in cluster_ids:
        client.show_cluster(ShowClusterRequest(cluster_id=cid))
        client.list_addon_instances(ListAddonInstancesRequest(cluster_id=cid))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000])
    # The knob a user has: `plan --parallelism P` opens CloudSession(concurrency=2P).
    # The default (10, so 20 requests in flight) is what the figures are for.
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--sdk-sample", type=int, default=30,
                        help="clusters read by the sequential SDK loop (extrapolated)")
    args = parser.parse_args()
    args.concurrency = args.parallelism * 2
    ctx = mp.get_context("spawn")
    for size in args.sizes:
        port = _free_port()
        desired_path = Path(tempfile.mkdtemp()) / "desired.yaml"
        ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        proc = ctx.Process(target=_serve, args=(size, port, str(desired_path), ready), daemon=True)
        proc.start()
        try:
            token = ready.get(timeout=600)
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            assert proc.pid is not None
            figures = asyncio.run(_plan(desired_path, token, args.concurrency, proc.pid))
            ideal = figures["requests"] / args.concurrency * LATENCY_MS / 1000
            from reconciler.config import load_desired

            desired = load_desired([desired_path], environ={})
            ids = [c.cluster_id for c in desired.clusters[: args.sdk_sample]]
            sdk_s = _sdk_sequential(port, token, desired.clusters[0].project_id, ids)
            sdk_total = sdk_s / len(ids) * size
            print(
                f"clusters={size} addons={figures['addons']:.0f} "
                f"requests={figures['requests']:.0f} parallelism={args.parallelism} "
                f"(concurrency {args.concurrency}) "
                f"latency={LATENCY_MS:.0f}ms\n"
                f"  plan wall        {figures['wall_s']:.2f} s (ideal {ideal:.2f} s, "
                f"ratio {figures['wall_s'] / ideal:.2f}; target <= 1.3)\n"
                f"  config load      {figures['load_s']:.2f} s\n"
                f"  refresh alone    {figures['refresh_s']:.2f} s (the reads without planning)\n"
                f"  CPU per request  client "
                f"{figures['client_cpu_s'] * 1000 / figures['requests']:.2f} ms "
                f"(whole refresh+plan / requests), emulator "
                f"{figures['server_cpu_s'] * 1000 / figures['requests']:.2f} ms\n"
                f"  compare CPU      {figures['cpu_s'] * 1000 / figures['addons']:.3f} ms "
                f"per unchanged managed add-on ({figures['noops']:.0f} no-ops; target <= 0.2); "
                f"first run (adopt) {figures['adopt_cpu_s'] * 1000 / figures['addons']:.3f} ms\n"
                f"  changes found    {figures['changed']:.0f} (expected 0), "
                f"errors {figures['errors']:.0f}\n"
                f"  peak memory      {figures['peak_mb']:.0f} MB (max RSS after config load + "
                f"plan; target <= 300 at 10,000)\n"
                f"  official SDK     {sdk_total:.1f} s sequential (extrapolated from "
                f"{len(ids)} clusters) -> {sdk_total / figures['wall_s']:.1f}x faster "
                f"(target >= 20x)",
                flush=True,
            )
        finally:
            proc.kill()
            proc.join()
    sys.exit(0)


if __name__ == "__main__":
    main()
