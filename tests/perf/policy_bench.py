"""Benchmark (not a test): the example policies over a 1,000-cluster plan.

A generated fleet is served on a socket (``emulator serve --generate``), adopted
once (``apply``: state only), then a release is made (everest one version up in
the base profile) and planned as JSON: one upgrade on every cluster, the other
seven add-ons unchanged. The figure is the time ``--policy examples/policies``
adds to a plan: building the policy input and evaluating the four example
policies with the embedded Rego runtime, min/median/max over several runs.
Target: under a second at 1,000 clusters. Exits 1 when it is missed.

    .venv/bin/python tests/perf/policy_bench.py [--clusters 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.policy import evaluate, load_policies, policy_input

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "examples" / "policies"
TARGET_S = 1.0


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def _plan_json(clusters: int, work: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    env["NO_COLOR"] = "1"
    server = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", str(clusters),
         "--port", "0", "--write-desired", "fleet.yaml", "--time-scale", "1000"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        banner = ""
        deadline = time.monotonic() + 120
        while "reconciler plan" not in banner and time.monotonic() < deadline:
            banner += server.stdout.readline()
        token = re.search(r"HW_AUTH_TOKEN=(\S+)", banner)
        endpoint = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
        if not token or not endpoint:
            raise SystemExit(f"the emulator did not start:\n{banner}")
        env["HW_AUTH_TOKEN"] = token.group(1)
        # The operator allows this machine's emulator, as its banner says.
        env["RECONCILER_ALLOWED_ENDPOINTS"] = endpoint.group(1)
        adopted = _cli("apply", "fleet.yaml", "--auto-approve", cwd=work, env=env)
        if adopted.returncode != 0:
            raise SystemExit(f"adopting the fleet failed:\n{adopted.stderr[-2000:]}")
        desired = work / "fleet.yaml"
        text = desired.read_text(encoding="utf-8")
        released = text.replace("everest: {version: 2.4.7}", "everest: {version: 2.4.28}", 1)
        if released == text:
            raise SystemExit("fleet.yaml has no base everest 2.4.7 to release")
        desired.write_text(released, encoding="utf-8")
        planned = _cli("plan", "fleet.yaml", "--format", "json", cwd=work, env=env)
        if planned.returncode != 0:
            raise SystemExit(f"plan failed:\n{planned.stderr[-2000:]}")
        data: dict[str, object] = json.loads(planned.stdout)
        return data
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan_json(args.clusters, Path(tmp))
    policies = load_policies([POLICIES])
    walls, cpus = [], []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        document = policy_input(plan)
        report = evaluate(policies, document)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    changes = len(document["resource_changes"])
    print(f"plan: {args.clusters:,} clusters, {changes:,} resource changes,"
          f" {len(json.dumps(document)):,} bytes of policy input")
    print(f"policies: {len(policies.files)} files, {len(report.results)} results"
          f" ({len(report.denied)} denied)")
    print(f"evaluation wall: min {min(walls):.3f} s, median {statistics.median(walls):.3f} s,"
          f" max {max(walls):.3f} s; CPU median {statistics.median(cpus):.3f} s")
    ok = statistics.median(walls) <= TARGET_S
    print(f"target ≤ {TARGET_S:.1f} s (median): {'met' if ok else 'NOT MET'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
