"""The loader frees each cluster's YAML nodes once its spec is built (peak
memory at 10,000 clusters); every location must still be the one written,
also where an alias shares nodes between clusters."""

from __future__ import annotations

import gc
from pathlib import Path

from reconciler.config import load_desired

FILE = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: p
clusters:
  a:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac10000a
    addons: &common
      coredns:
        version: "1.0"
        values:
          custom:
            x: 1
  b:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac10000b
    addons: *common
  c:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac10000c
    addons:
      everest:
        values:
          basic:
            y: 2
"""


def test_locations_survive_the_release_of_earlier_clusters(tmp_path: Path) -> None:
    path = tmp_path / "desired.yaml"
    path.write_text(FILE, encoding="utf-8")
    specs = {spec.name: spec for spec in load_desired([path], environ={}).clusters}
    assert [(s.location.line if s.location else 0) for s in specs.values()] == [6, 14, 17]
    for name in ("a", "b"):  # b's add-ons are a's nodes, through the alias
        addon = specs[name].addons[0]
        assert addon.location is not None and addon.location.line == 9
        assert addon.value_locations["values.custom.x"].line == 13
    everest = specs["c"].addons[0]
    assert everest.location is not None and everest.location.line == 20
    assert everest.value_locations["values.basic.y"].line == 23


def _fleet(count: int) -> str:
    lines = ["apiVersion: reconciler/v1", "defaults:", "  region: ap-southeast-1",
             "  project_id: p", "clusters:"]
    for i in range(count):
        lines += [f"  c{i}:", f"    cluster_id: 6b400e1c-4368-11f0-ba56-{i:012x}", "    addons:",
                  "      coredns:", '        version: "1.0"', "        depends_on: [everest]",
                  "        values: {custom: {x: [1, 2]}}", "      everest:", "        version: '2'"]
    return "\n".join(lines) + "\n"


def test_the_load_leaves_no_garbage_per_cluster(tmp_path: Path) -> None:
    # The loader pauses the cyclic collector, so anything per cluster that only
    # it can free (a recursive closure holds itself) stays until the load ends:
    # at 10,000 clusters that was ~50 MB of the peak. What is left for the
    # collector must not grow with the fleet.
    left = []
    for count in (5, 40):
        path = tmp_path / f"fleet{count}.yaml"
        path.write_text(_fleet(count), encoding="utf-8")
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            assert len(load_desired([path], environ={}).clusters) == count
            left.append(gc.collect())
        finally:
            if was_enabled:
                gc.enable()
    assert left[1] <= left[0] + 10, left
