"""Benchmark: the value-key check per declared add-on, memoised and not.

Not a test: it prints figures. The check (engine/valuekeys.py) runs for every
add-on of every cluster that declares values; it is memoised per (template
version, preset, declared key paths, allow list), so a fleet of N clusters
declaring the same few shapes pays the walk and the did-you-mean search a
few times, then a dictionary look-up. This measures both paths over the
packaged demo templates, with the values a fleet profile would declare (one
of them carrying a typo, so the miss path includes difflib).

    .venv/bin/python tests/perf/valuekeys_bench.py          # 8,000 add-ons
    .venv/bin/python tests/perf/valuekeys_bench.py 80000
"""

from __future__ import annotations

import sys
import time

from reconciler.emulator.scenario.loader import demo_scenario_path, load_scenario
from reconciler.engine.valuekeys import unknown_keys
from reconciler.engine.values import defaults_for
from reconciler.model.desired import AddonSpec
from reconciler.model.live import TemplateVersion

DECLARED = {
    "coredns": {"custom": {"multiAZEnabled": False, "stub_domains": {"acme.local": ["10.0.0.53"]},
                           "upstream_nameservers": ["10.0.0.2"]}},
    "autoscaler": {"custom": {"maxNodeTotal": 80, "scaleDownEnabled": True}},  # a typo
    "everest": {"custom": {"over_subscription": "80", "tolerations": []}},
    "npd": {"custom": {"npc": {"maxTaintedNode": "10%"}}, "flavor": {"replicas": 2}},
    "metrics-server": {"custom": {"multiAZEnabled": True}},
}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    scenario = load_scenario(demo_scenario_path())
    versions = [TemplateVersion(version=v.version, input=v.input)
                for t in scenario.templates if t.name in DECLARED for v in t.versions]
    names = [t.name for t in scenario.templates if t.name in DECLARED for _ in t.versions]
    work = []
    for n in range(count):
        i = n % len(versions)
        defaults = defaults_for(versions[i], None, AddonSpec(name=names[i]))
        # a fresh tree per add-on, as every cluster's file gives one
        values = {k: dict(v) for k, v in DECLARED[names[i]].items()}
        work.append((values, defaults, versions[i]))
    found = 0
    start = time.perf_counter()
    for values, defaults, _ in work:
        found += len(unknown_keys(values, defaults.values))
    plain = time.perf_counter() - start
    start = time.perf_counter()
    for values, defaults, version in work:
        found -= len(unknown_keys(values, defaults.values, source=version,
                                  preset=defaults.flavor))
    memo = time.perf_counter() - start
    assert found == 0, "the memoised answer differs"
    print(f"add-ons={count} template versions={len(versions)}")
    print(f"  unmemoised  {plain / count * 1e6:7.2f} µs per add-on ({plain:.3f} s)")
    print(f"  memoised    {memo / count * 1e6:7.2f} µs per add-on ({memo:.3f} s), "
          f"{plain / memo:.1f}x faster")


if __name__ == "__main__":
    main()
