"""CPU cost of comparing an unchanged add-on (docs/planning.md: ≤ 0.2 ms). Not a test.

Run: ``.venv/bin/python tests/perf/engine_compare.py``. Prints µs of CPU per
compare for the diff alone, for full values + diff, and per add-on of a whole
``plan_changes`` over clusters of 8 unchanged add-ons (what a no-op plan pays).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_builders import (
    autoscaler_template,
    cluster,
    cluster_spec,
    coredns_template,
    coredns_values,
    desired,
    instance,
    live,
    spec,
)

from reconciler.engine import diff_values, full_values, plan_changes
from reconciler.engine.values import template_defaults
from reconciler.model.live import AddonTemplate, TemplateVersion
from reconciler.model.sensitive import NO_RULES
from reconciler.model.state import ManagedAddon, StateFile

ADDONS = 8


def cpu_us_per_call(fn: Callable[[], Any], calls: int) -> float:
    fn()  # warm caches (regexes, lru caches)
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e6


# The size of a real coredns instance's custom values (servers, plugins, tolerations).
REALISTIC_CUSTOM = {
    "servers": [{"port": 5353, "zones": [{"zone": "."}], "plugins": [
        {"name": "bind", "parameters": "{$POD_IP}"},
        {"name": "cache", "parameters": 30},
        {"name": "errors"},
        {"name": "health", "parameters": "{$POD_IP}:8080"},
        {"name": "ready", "parameters": "{$POD_IP}:8081"},
        {"name": "kubernetes", "parameters": "cluster.local in-addr.arpa ip6.arpa",
         "configBlock": "pods insecure\nfallthrough in-addr.arpa ip6.arpa"},
        {"name": "loadbalance", "parameters": "round_robin"},
        {"name": "prometheus", "parameters": "{$POD_IP}:9153"},
        {"name": "forward", "parameters": ". /etc/resolv.conf"},
        {"name": "reload"}]}],
    "tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 60},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 60}],
    "node_match_expressions": [],
    "multiAZBalance": False,
}


def main() -> None:
    template_version = coredns_template().version("1.30.33")
    assert template_version is not None
    realistic_input = dict(template_version.input)
    realistic_input["parameters"] = dict(realistic_input["parameters"])
    realistic_input["parameters"]["custom"] = {
        **realistic_input["parameters"]["custom"], **REALISTIC_CUSTOM}
    version = replace(template_version, input=realistic_input)
    # live values as CCE returns them: numbers as strings, keys in another order
    live_values = coredns_values(cache_ttl="30", upstream_nameservers=["10.0.0.2"],
                                 **REALISTIC_CUSTOM)
    addon = spec("coredns", version="1.30.33", values={"custom": {
        "upstream_nameservers": ["10.0.0.2"]}})
    target = cluster()
    schema = template_defaults(version, "2500")
    full = full_values(version, live_values, addon, target, "p").values

    diff_us = cpu_us_per_call(lambda: diff_values(live_values, full, ignore=(), sensitive=NO_RULES,
                                                  schema=schema), 5000)
    assert diff_values(live_values, full, ignore=(), sensitive=NO_RULES, schema=schema) == ()

    # same values, other spelling: the normalised comparison, still no deepdiff
    spelt = dict(full, custom={**full["custom"], "cache_ttl": 30})
    assert diff_values(live_values, spelt, ignore=(), sensitive=NO_RULES, schema=schema) == ()
    spelling_us = cpu_us_per_call(lambda: diff_values(live_values, spelt, ignore=(),
                                                      sensitive=NO_RULES, schema=schema), 5000)

    def values_and_diff() -> None:
        values = full_values(version, live_values, addon, target, "p").values
        diff_values(live_values, values, ignore=(), sensitive=NO_RULES, schema=schema)

    both_us = cpu_us_per_call(values_and_diff, 5000)

    # a plan over clusters of 8 unchanged coredns-like add-ons
    names = [f"dns{i}" for i in range(ADDONS)]
    catalog: dict[str, AddonTemplate] = {
        n: AddonTemplate(name=n, versions=(TemplateVersion("1.30.33", version.input,
                                                           support_versions=version.support_versions),))
        for n in names
    }
    catalog["autoscaler"] = autoscaler_template()
    specs = [spec(n, version="1.30.33", values=addon.values) for n in names]
    clusters = [cluster_spec(*specs, name=f"c{i}") for i in range(50)]
    lives = {c.name: live(*(instance(n, "1.30.33", live_values) for n in names)) for c in clusters}
    wanted = desired(*clusters)
    # every add-on already managed: the steady state a scheduled plan sees
    states: dict[str, StateFile | None] = {
        c.name: StateFile(lineage="l", serial=1, cluster_name=c.name, cluster_id="x", addons={
            n: ManagedAddon(name=n, uid=f"uid-{n}", version="1.30.33", values={},
                            values_digest="", applied_at="") for n in names})
        for c in clusters}
    plan = plan_changes(wanted, lives, catalog, states, plan_id="p", tool_version="0")
    assert not plan.has_changes and not plan.has_errors
    plan_us = cpu_us_per_call(
        lambda: plan_changes(wanted, lives, catalog, states, plan_id="p", tool_version="0"), 20)
    per_addon_us = plan_us / (len(clusters) * ADDONS)

    print(f"diff only, identical values:                  {diff_us:8.1f} µs per compare")
    print(f"diff only, same values spelt differently:     {spelling_us:8.1f} µs per compare")
    print(f"full values + diff:                           {both_us:8.1f} µs per compare")
    print(f"plan_changes, per unchanged add-on:           {per_addon_us:8.1f} µs "
          "(target ≤ 200 µs)")


if __name__ == "__main__":
    main()
