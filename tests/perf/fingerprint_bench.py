"""What slow fingerprints cost a plan: 1,000 clusters, each with a secret. Not a test.

Run: ``.venv/bin/python tests/perf/fingerprint_bench.py [CLUSTERS]``. Plans
CLUSTERS first-run clusters (no state) whose coredns carries a ``secret()``
leaf, with the engine and the plan-file codec (what ``plan --out`` computes,
without the network), three ways:

* ``sha256`` — the old fingerprint: a salted SHA-256 whose salt the plan
  file carries;
* ``pbkdf2`` — what a plan of clusters with no state uses now
  (``model.sensitive.published_salt``: PBKDF2, the salt in the plan file);
* ``state`` — clusters with a state: a fast salted SHA-256 whose salt stays in
  the state.

It also prints what one guess at a secret costs an attacker who holds the
plan file, and how long a 10,000-word dictionary takes at that rate.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_builders import (
    cluster_spec,
    coredns_template,
    coredns_values,
    desired,
    instance,
    live,
    spec,
)

from reconciler.engine import plan_changes
from reconciler.model import sensitive
from reconciler.model.state import StateFile
from reconciler.planfile.codec import plan_to_json


def plan_seconds(clusters: int, salt_of: str) -> float:
    specs = [cluster_spec(spec("coredns", version="1.29.4", flavor="2500",
                               values={"custom": {"upstream_nameservers": [f"tok-{n:05d}"]}},
                               secret_sources={"custom.upstream_nameservers[0]": ("TOKEN",)}),
                          name=f"c{n:05d}")
             for n in range(clusters)]
    lives = {s.name: live(instance("coredns", "1.29.4", coredns_values())) for s in specs}
    states: dict[str, StateFile | None] = {}
    salts: dict[str, str] = {}
    for s in specs:
        if salt_of == "state":
            states[s.name] = StateFile(lineage=f"l-{s.name}", serial=1, cluster_name=s.name,
                                       cluster_id="id", salt=f"state-salt-{s.name}")
            salts[s.name] = f"state-salt-{s.name}"  # what plan passes: the state's
        else:
            states[s.name] = None
            salts[s.name] = (sensitive.published_salt(f"seed-{s.name}") if salt_of == "pbkdf2"
                             else f"seed-{s.name}")
    sensitive._slow_hash.cache_clear()
    start = time.perf_counter()
    plan = plan_changes(desired(*specs), lives, {"coredns": coredns_template()}, states,
                        plan_id="bench", tool_version="bench", salts=salts)
    plan_to_json(plan, salts=salts)
    return time.perf_counter() - start


def guess_seconds() -> tuple[float, float]:
    """One guess against each kind of fingerprint in a plan file."""
    rounds = 20
    start = time.perf_counter()
    for n in range(rounds):
        hashlib.pbkdf2_hmac("sha256", f'"guess{n}"'.encode(), b"kdf:salt",
                            sensitive.KDF_ITERATIONS)
    slow = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for n in range(10_000):
        hashlib.sha256(f'salt\x00"guess{n}"'.encode()).hexdigest()
    fast = (time.perf_counter() - start) / 10_000
    return fast, slow


def main() -> None:
    clusters = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(f"plan of {clusters:,} clusters with one secret each (engine + plan file):")
    for kind in ("sha256", "pbkdf2", "state"):
        print(f"  {kind:7} {plan_seconds(clusters, kind):7.2f} s")
    fast, slow = guess_seconds()
    print(f"one guess: sha256 {fast * 1e6:.1f} µs, pbkdf2 ({sensitive.KDF_ITERATIONS:,} rounds)"
          f" {slow * 1e3:.1f} ms")
    print(f"10,000 guesses: sha256 {fast * 1e4:.2f} s, pbkdf2 {slow * 1e4:.0f} s (one core);"
          " state-bound clusters: no salt in the plan, nothing to test against")


if __name__ == "__main__":
    main()
