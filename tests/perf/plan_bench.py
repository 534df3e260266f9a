"""Benchmark: `plan` over N clusters x 8 add-ons against the emulator on a socket.

Not a test (no assertions on timing): it prints the figures the targets in docs/planning.md
("Performance targets") are measured by. The emulator runs in a child process
(uvicorn on 127.0.0.1) with injected latency, so this process's peak RSS is the planner's own.

    .venv/bin/python tests/perf/plan_bench.py            # 100 and 1,000 clusters
    .venv/bin/python tests/perf/plan_bench.py 10000      # any sizes
    .venv/bin/python tests/perf/plan_bench.py 1000 --sdk-sample 50
    .venv/bin/python tests/perf/plan_bench.py 1000 --declare-values   # add-ons declare values
    .venv/bin/python tests/perf/plan_bench.py --throttle 50   # 250 clusters, gateway at 50/s

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

``--throttle R`` instead serves the fleet behind a gateway that answers 429
(``Retry-After: 1``) above R requests/s, and plans it twice, each against a
fresh emulator: with ``--rate-limit R`` (wall target <= 1.15 x requests / R)
and without, adapting to the 429s (<= 1.3 x). The emulator counts what it
answered: every read must be answered 2xx exactly once (none lost, none
repeated), and it must have seen exactly the requests the client sent.

Every target is printed with "met" or "NOT MET", and a last line says whether
all were met.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LATENCY_MS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DECLARED = {
    "coredns": "{custom: {multiAZEnabled: false, stub_domains: {}}}",
    "everest": '{custom: {over_subscription: "80"}}',
    "metrics-server": "{custom: {multiAZEnabled: false}}",
    "autoscaler": "{custom: {maxNodesTotal: 1000, scaleDownEnabled: true}}",
    "npd": '{custom: {npc: {maxTaintedNode: "10%"}}}',
}
"""``--declare-values``: values each add-on of a template declares (its
template's defaults, so nothing changes): the value-key check then runs for
every one of them, as in a fleet whose profiles set values."""


def _serve(clusters: int, port: int, desired_path: str, ready: mp.Queue,  # type: ignore[type-arg]
           throttle: float | None = None, counts: Any = None, declare: bool = False) -> None:
    import uvicorn

    from reconciler.emulator import Emulator, Faults, generate_scenario

    scenario = generate_scenario(clusters)
    emu = Emulator(scenario, faults=Faults(latency_ms=LATENCY_MS, rate_limit_per_s=throttle,
                                           retry_after_s=1))
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
            if declare and template in DECLARED:
                lines.append(f"        values: {DECLARED[template]}")
    Path(desired_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Encode every instance once before the clock starts: a real CCE has no
    # such warm-up, and the emulator's cost is the rig's, not the planner's.
    for inst in list(emu.store.instances.values()):
        emu.encoded_instance(inst)
    ready.put(emu.account.token)
    app = emu.app if counts is None else _counting(emu.app, counts)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
                backlog=4096, timeout_keep_alive=60)


def _counting(app: Any, counts: Any) -> Any:
    """``app``, counting the responses it starts: [all, 429, 2xx] in ``counts``."""

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        async def counting_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                status = int(message["status"])
                counts[0] += 1
                counts[1] += status == 429
                counts[2] += 200 <= status < 300
            await send(message)

        await app(scope, receive, counting_send)

    return counted


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


def _allowed(desired_path: Path) -> Any:
    """The bench's emulator socket, allowed as its operator would (the file names it)."""
    from reconciler.model.trust import EndpointRule

    found = re.search(r"endpoint: (http://127\.0\.0\.1:\d+)", desired_path.read_text())
    assert found, desired_path
    return EndpointRule((found.group(1),))


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
    desired = load_desired([desired_path], environ={}, allowed_endpoints=_allowed(desired_path))
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


async def _plan_throttled(desired_path: Path, token: str, concurrency: int,
                          rate_limit: float | None) -> dict[str, float]:
    from reconciler.cloud import CloudSession, Credentials
    from reconciler.config import load_desired
    from reconciler.run.plan import make_plan
    from reconciler.statemgr.local import LocalBackend

    desired = load_desired([desired_path], environ={}, allowed_endpoints=_allowed(desired_path))
    store = LocalBackend(Path(tempfile.mkdtemp()) / "state")
    async with CloudSession(concurrency=concurrency, rate_limit_per_s=rate_limit,
                            credentials=Credentials(token=token)) as session:
        t0 = time.perf_counter()
        result = await make_plan(desired, session, store)
        wall = time.perf_counter() - t0
        cuts = sum(p.cuts for p in session.paces.values())
        rates = [p.rate for p in session.paces.values() if p.rate is not None]
    return {"wall_s": wall, "requests": session.request_count, "cuts": cuts,
            "final_rate": rates[0] if rates else 0.0,
            "reads": 2 * len(desired.clusters) + 1,
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


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


class _Emulator:
    """The emulator in its own process for one size (and gateway limit)."""

    def __init__(self, size: int, throttle: float | None = None, declare: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self.port = _free_port()
        self.desired_path = Path(tempfile.mkdtemp()) / "desired.yaml"
        self.counts = ctx.Array("q", 3, lock=False)
        ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        self.proc = ctx.Process(target=_serve, daemon=True, args=(
            size, self.port, str(self.desired_path), ready, throttle, self.counts, declare))
        self.proc.start()
        self.token = ready.get(timeout=600)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert self.proc.pid is not None
        self.pid = self.proc.pid
        self.counts[0] = self.counts[1] = self.counts[2] = 0  # the probe above is not a request

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()


def _throttled(size: int, rate: float, concurrency: int) -> bool:
    all_met = True
    lines = [f"clusters={size} gateway limit {rate:g} requests/s (429, Retry-After: 1) "
             f"concurrency {concurrency} latency={LATENCY_MS:.0f}ms"]
    for label, given, target in (("--rate-limit", rate, 1.15), ("adaptive", None, 1.3)):
        emulator = _Emulator(size, throttle=rate)
        try:
            figures = asyncio.run(_plan_throttled(emulator.desired_path, emulator.token,
                                                  concurrency, given))
            served, refused, ok = (int(c) for c in emulator.counts)
        finally:
            emulator.close()
        ideal = figures["requests"] / rate
        floor = figures["reads"] / rate
        ratio = figures["wall_s"] / floor
        exact = ok == figures["reads"] and served == figures["requests"]
        met = ratio <= target and exact and figures["errors"] == 0
        all_met &= met
        lines.append(
            f"  {label:12s} wall {figures['wall_s']:.2f} s for {figures['reads']:.0f} reads "
            f"(reads / R = {floor:.2f} s, ratio {ratio:.2f}; target <= {target}) "
            f"{_verdict(ratio <= target)}\n"
            f"  {'':12s} client sent {figures['requests']:.0f} (requests / R = {ideal:.2f} s); "
            f"emulator answered {served} ({refused} x 429, {ok} x 2xx); "
            f"each read answered once: {_verdict(exact)}; plan errors "
            f"{figures['errors']:.0f}; rate cuts {figures['cuts']:.0f}, final pace "
            f"{figures['final_rate']:.1f}/s")
    print("\n".join(lines), flush=True)
    return all_met


def _unthrottled(size: int, args: argparse.Namespace) -> bool:
    emulator = _Emulator(size, declare=args.declare_values)
    try:
        figures = asyncio.run(_plan(emulator.desired_path, emulator.token, args.concurrency,
                                    emulator.pid))
        ideal = figures["requests"] / args.concurrency * LATENCY_MS / 1000
        from reconciler.config import load_desired

        desired = load_desired([emulator.desired_path], environ={},
                               allowed_endpoints=_allowed(emulator.desired_path))
        ids = [c.cluster_id for c in desired.clusters[: args.sdk_sample]]
        sdk_s = _sdk_sequential(emulator.port, emulator.token, desired.clusters[0].project_id,
                                ids)
        sdk_total = sdk_s / len(ids) * size
    finally:
        emulator.close()
    ratio = figures["wall_s"] / ideal
    cpu_ms = figures["client_cpu_s"] * 1000 / figures["requests"]
    speedup = sdk_total / figures["wall_s"]
    memory_ok = figures["peak_mb"] <= 300 or size < 10_000
    compare_ms = figures["cpu_s"] * 1000 / figures["addons"]
    checks = [ratio <= 1.3, cpu_ms <= 0.7, memory_ok, speedup >= 20, compare_ms <= 0.2,
              figures["changed"] == 0 and figures["errors"] == 0]
    print(
        f"clusters={size} addons={figures['addons']:.0f} "
        f"requests={figures['requests']:.0f} parallelism={args.parallelism} "
        f"(concurrency {args.concurrency}) "
        f"latency={LATENCY_MS:.0f}ms\n"
        f"  plan wall        {figures['wall_s']:.2f} s (ideal {ideal:.2f} s, "
        f"ratio {ratio:.2f}; target <= 1.3) {_verdict(checks[0])}\n"
        f"  config load      {figures['load_s']:.2f} s\n"
        f"  refresh alone    {figures['refresh_s']:.2f} s (the reads without planning)\n"
        f"  CPU per request  client {cpu_ms:.2f} ms (whole refresh+plan / requests; "
        f"target <= 0.7) {_verdict(checks[1])}, emulator "
        f"{figures['server_cpu_s'] * 1000 / figures['requests']:.2f} ms\n"
        f"  compare CPU      {compare_ms:.3f} ms "
        f"per unchanged managed add-on ({figures['noops']:.0f} no-ops; target <= 0.2) "
        f"{_verdict(checks[4])}; first run (adopt) "
        f"{figures['adopt_cpu_s'] * 1000 / figures['addons']:.3f} ms\n"
        f"  changes found    {figures['changed']:.0f} (expected 0), "
        f"errors {figures['errors']:.0f} {_verdict(checks[5])}\n"
        f"  peak memory      {figures['peak_mb']:.0f} MB (max RSS after config load + "
        f"plan; target <= 300 at 10,000) "
        f"{_verdict(checks[2]) if size >= 10_000 else '(checked at 10,000)'}\n"
        f"  official SDK     {sdk_total:.1f} s sequential (extrapolated from "
        f"{len(ids)} clusters) -> {speedup:.1f}x faster "
        f"(target >= 20x) {_verdict(checks[3])}",
        flush=True,
    )
    return all(checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int)
    # The knob a user has: `plan --parallelism P` opens CloudSession(concurrency=2P).
    # The default (10, so 20 requests in flight) is what the figures are for.
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--sdk-sample", type=int, default=30,
                        help="clusters read by the sequential SDK loop (extrapolated)")
    parser.add_argument("--throttle", type=float, default=None, metavar="R",
                        help="gateway limit in requests/s: plan with --rate-limit R and "
                             "adaptively (default size 250)")
    parser.add_argument("--declare-values", action="store_true",
                        help="every coredns, everest, metrics-server, autoscaler and npd "
                             "declares values (equal to live): the value-key check runs")
    args = parser.parse_args()
    args.concurrency = args.parallelism * 2
    sizes = args.sizes or ([250] if args.throttle else [100, 1000])
    if len(sizes) > 1:
        # Each size in a process of its own: the peak RSS a size reports is then
        # its own plan's, not the high-water mark an earlier size (and its SDK
        # loop) left in this process.
        met = True
        for size in sizes:
            child = [sys.executable, __file__, str(size), "--parallelism", str(args.parallelism),
                     "--sdk-sample", str(args.sdk_sample)]
            if args.throttle:
                child += ["--throttle", str(args.throttle)]
            if args.declare_values:
                child.append("--declare-values")
            out = subprocess.run(child, check=False, text=True, stdout=subprocess.PIPE).stdout
            print(out.replace("all targets met\n", "").replace("NOT all targets met\n", ""),
                  end="", flush=True)
            met &= "NOT all targets met" not in out and "all targets met" in out
        print("all targets met" if met else "NOT all targets met", flush=True)
        sys.exit(0)
    met = True
    for size in sizes:
        if args.throttle:
            met &= _throttled(size, args.throttle, args.concurrency)
        else:
            met &= _unthrottled(size, args)
    print("all targets met" if met else "NOT all targets met", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
