"""Benchmark: `reconciler init` against a generated fleet served on a socket.

Not a test (no assertions on timing): it prints figures. The emulator runs in
a child process (``reconciler emulator serve --generate N``, uvicorn on
127.0.0.1, optionally with injected latency); ``init`` runs as a user runs it,
in another child process, timed from start to exit.

    .venv/bin/python tests/perf/init_bench.py                   # 1,000 clusters
    .venv/bin/python tests/perf/init_bench.py 100 1000 --latency-ms 20
    .venv/bin/python tests/perf/init_bench.py 1000 --no-plan    # init only

Figures per size: init's wall time and CPU, its peak RSS, requests made
(one template list, one cluster list, one add-on list per cluster), the
written file's size, profiles and per-cluster add-on blocks; then (unless
``--no-plan``) a ``plan --format json`` of the written file, which must show
adoptions only: the line says "adopts only" or "NOT adopts only".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REGION = "ap-southeast-1"


def _serve(clusters: int, latency_ms: int) -> tuple[subprocess.Popen[str], str, str, str]:
    """The emulator child and its URL, project id and token (from its banner)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", str(clusters),
         "--port", "0", "--seed", "1", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    fields: dict[str, str] = {}
    while "faults" not in fields:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"emulator ended early: {proc.wait()}")
        if line.startswith("CCE emulator on "):
            fields["url"] = line.split()[3]
        elif ":" in line and line.startswith("  "):
            key, _, value = line.strip().partition(":")
            fields[key.strip()] = value.strip()
    return proc, fields["url"], fields["project id"], fields["token"]


def _env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    return {**env, "HW_AUTH_TOKEN": token, "NO_COLOR": "1"}


def run(clusters: int, latency_ms: int, parallelism: int, plan: bool) -> None:
    proc, url, project, token = _serve(clusters, latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "fleet.yaml"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "reconciler", "init", "--endpoint", url, "--region",
                 REGION, "--project-id", project, "--out", str(out), "--parallelism",
                 str(parallelism), "--state-dir", str(Path(tmp) / "state")],
                env=_env(token), capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise SystemExit(f"init failed ({done.returncode}): {done.stderr}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            text = out.read_text(encoding="utf-8")
            doc = yaml.safe_load(text)
            blocks = sum(len(c.get("addons", {})) for c in doc["clusters"].values())
            print(f"init {clusters:>6} clusters: {wall:6.2f} s wall, {cpu:5.2f} s CPU, "
                  f"peak RSS {after.ru_maxrss / 1024:.0f} MiB, {clusters + 2} requests "
                  f"(latency {latency_ms} ms, parallelism {parallelism})")
            print(f"  file: {len(text) / 1024:.0f} KiB, {text.count(chr(10))} lines, "
                  f"profiles {', '.join(doc.get('profiles', {})) or 'none'}, "
                  f"{blocks} per-cluster add-on blocks")
            if plan:
                start = time.perf_counter()
                planned = subprocess.run(
                    [sys.executable, "-m", "reconciler", "plan", str(out), "--format", "json",
                     "--parallelism", str(parallelism), "--state-dir", str(Path(tmp) / "state")],
                    env=_env(token), capture_output=True, text=True, check=False)
                took = time.perf_counter() - start
                if planned.returncode != 0:
                    raise SystemExit(f"plan failed ({planned.returncode}): {planned.stderr}")
                summary = json.loads(planned.stdout)["summary"]
                writes = sum(summary.get(k, 0) for k in ("install", "upgrade", "update",
                                                         "delete"))
                verdict = "adopts only" if writes == 0 and summary.get("adopt") else \
                    "NOT adopts only"
                print(f"  plan of the file: {took:.1f} s, {summary.get('adopt', 0)} to adopt, "
                      f"{writes} writes: {verdict}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000])
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--no-plan", action="store_true")
    args = parser.parse_args()
    for size in args.sizes:
        run(size, args.latency_ms, args.parallelism, not args.no_plan)


if __name__ == "__main__":
    main()
