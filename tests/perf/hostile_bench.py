"""Benchmark (not a test): work on hostile input must stay linear and bounded.

Prints, for desired-state files with N unknown top-level keys, the seconds and
peak RSS of ``reconciler validate`` (one error per key), and the same for the
template bombs of issue 19 (each refused with one error). Before the fix,
20,000 keys took 46 s and 50,000 keys 216 s (quadratic de-duplication), and
``'x'|center(300000000)`` reached 1.5 GB before the output limit fired.

    .venv/bin/python tests/perf/hostile_bench.py [--keys 5000 20000 50000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.monotonic()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps([done.returncode, done.stderr.count(': error: '),"
    " time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
)
BOMBS = [
    "'%300000000d'|format(1)",
    "'x'|center(300000000)",
    "(('a'*10000000)|list)|sort|length",
    "('a'*10000000)|replace('a', 'bbbb')",
]


def measure(text: str, workdir: Path) -> tuple[int, int, float, int]:
    (workdir / "desired.yaml").write_text(text, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, sys.executable, "-m", "reconciler",
                          "validate", "desired.yaml"], cwd=workdir, capture_output=True,
                         text=True, check=True)
    code, errors, seconds, rss = json.loads(out.stdout)
    return code, errors, seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        _, _, baseline, base_rss = measure("apiVersion: reconciler/v1\nclusters: {}\n", workdir)
        print(f"{'valid two-line file':>42}: {baseline:6.2f} s  {base_rss // 1024:5d} MB")
        for keys in args.keys:
            text = "apiVersion: reconciler/v1\nclusters: {}\n" + "".join(
                f"unknown_key_{i}: {i}\n" for i in range(keys))
            code, errors, seconds, rss = measure(text, workdir)
            print(f"{f'{keys:,} unknown keys ({len(text) // 1024:,} KB)':>42}: {seconds:6.2f} s"
                  f"  {rss // 1024:5d} MB  exit {code}, {errors:,} errors")
        for bomb in BOMBS:
            text = "apiVersion: reconciler/v1\nclusters: {}\nvars:\n  x: \"{{ " + bomb + " }}\"\n"
            code, errors, seconds, rss = measure(text, workdir)
            print(f"{bomb:>42}: {seconds:6.2f} s  {rss // 1024:5d} MB  exit {code},"
                  f" {errors} error")


if __name__ == "__main__":
    main()
