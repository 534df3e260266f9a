"""The desired-state file ``emulator serve --generate N --write-desired FILE``
writes: every served cluster with its labels and the add-ons it runs at the
versions it runs, and a three-wave rollout, so ``reconciler plan FILE`` has
nothing to change and a version edit rolls out canary → prod → rest.

Written as plain YAML in the documented desired-state format (DESIGN.md
section 2, ``rollout:`` as in issue 14): the emulator imports nothing of the
client, so it cannot reuse the config side's model; a format drift shows up
in the test that plans the written file. No credential is written: the
client reads them from the environment as for any endpoint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from reconciler.emulator.scenario import ClusterSpec

__all__ = ["CANARY_SOAK", "ROLLOUT", "desired_state_yaml"]

CANARY_SOAK = "30s"
"""Long enough for a soak to poll a few times (it polls every 10 s at most)."""

ROLLOUT: Mapping[str, object] = {
    "waves": [
        {"name": "canary", "clusters": ["env=staging"], "soak": CANARY_SOAK},
        {"name": "prod", "clusters": ["env=prod"], "max_parallel": 5, "max_failures": 1},
        {"name": "rest"},
    ],
    "pause": "none",
}


class _Flow(dict[str, Any]):
    """A mapping written on one line (``labels: {env: prod, …}``): a fleet file of
    thousands of clusters stays readable and diffable line by line."""


class _FlowList(list[Any]):
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data,
                                                    flow_style=True))


def _rollout() -> dict[str, Any]:
    waves = ROLLOUT["waves"]
    assert isinstance(waves, list)
    return {"waves": [{k: _FlowList(v) if isinstance(v, list) else v for k, v in w.items()}
                      for w in waves],
            "pause": ROLLOUT["pause"]}


def desired_state_yaml(clusters: Sequence[ClusterSpec],
                       running: Mapping[str, Iterable[tuple[str, str]]], *, endpoint: str,
                       project_id: str, region: str, header: str = "") -> str:
    """The file's text. ``running`` maps a cluster id to its ``(template,
    version)`` pairs; ``header`` becomes the leading comment (one line per line)."""
    document = {
        "apiVersion": "reconciler/v1",
        "defaults": {"region": region, "project_id": project_id, "endpoint": endpoint},
        "rollout": _rollout(),
        "clusters": {
            c.name: {
                "cluster_id": c.id,
                "labels": _Flow(c.labels),
                "addons": {template: _Flow(version=version)
                           for template, version in sorted(running.get(c.id, ()))},
            }
            for c in clusters
        },
    }
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=100, allow_unicode=True)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body
