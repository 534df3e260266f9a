"""Scenario clusters, and which cluster versions a ``clusterVersion`` regex admits.

``version_matches`` re-implements CCE's rule on purpose rather than sharing the
client's: the emulator is an independent oracle, so a misreading of the API in
the client is not silently mirrored by the server it is tested against."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator.scenario.reader import Reader, read_labels

__all__ = ["ClusterSpec", "NodeSpec", "cluster_ref", "read_cluster", "version_matches"]


@dataclass(frozen=True)
class NodeSpec:
    uid: str
    name: str


@dataclass(frozen=True)
class ClusterSpec:
    id: str
    name: str
    version: str
    type: str = "VirtualMachine"
    category: str = "CCE"
    phase: str = "Available"
    platform_version: str = "cce.10.0"
    nodes: tuple[NodeSpec, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    """What failure, precheck and abnormal rules select clusters by (``cluster_labels``).
    Not on the wire: CCE has no cluster labels of this kind; they stand for the
    labels a desired-state file gives the same clusters."""


def version_matches(pattern: str, k8s_version: str) -> bool:
    """A ``clusterVersion`` regex matches the full version or its minor (``v1.28``)."""
    minor = re.match(r"^v?\d+\.\d+", k8s_version)
    candidates = {k8s_version, minor.group(0) if minor else k8s_version}
    try:
        rx = re.compile(pattern)
    except re.error:
        return pattern in candidates
    return any(rx.fullmatch(c) for c in candidates)


def read_cluster(r: Reader) -> ClusterSpec:
    r.check_keys({"id", "name", "version", "type", "category", "phase", "platform_version",
                  "nodes", "labels"})
    cid: str = r.get("id", str, required=True)
    version: str = r.get("version", str, required=True)
    if not re.fullmatch(r"v\d+\.\d+(\.\d+)?(-r\d+)?", version):
        r.fail("must look like v1.29 or v1.29.3-r0", "version")
    nodes = []
    for n in r.items("nodes"):
        n.check_keys({"uid", "name"})
        nodes.append(NodeSpec(uid=n.get("uid", str, required=True),
                              name=n.get("name", str, required=True)))
    if not nodes:
        nodes = [NodeSpec(uid=f"{cid[:8]}-node-{i}", name=f"192.168.0.{10 + i}") for i in (1, 2)]
    cluster_type: str = r.get("type", str, "VirtualMachine")
    if cluster_type not in ("VirtualMachine", "BareMetal", "ARM64"):
        r.fail("must be VirtualMachine, BareMetal or ARM64", "type")
    return ClusterSpec(
        id=cid,
        name=r.get("name", str, required=True),
        version=version,
        type=cluster_type,
        category=r.get("category", str, "CCE"),
        phase=r.get("phase", str, "Available"),
        platform_version=r.get("platform_version", str, "cce.10.0"),
        nodes=tuple(nodes),
        labels=read_labels(r, "labels"),
    )


def cluster_ref(r: Reader, clusters: dict[str, ClusterSpec]) -> str | None:
    ref: str | None = r.get("cluster", str, None)
    if ref is None:
        return None
    cluster = clusters.get(ref) or next((c for c in clusters.values() if c.name == ref), None)
    if cluster is None:
        r.fail(f"no cluster with id or name {ref!r}", "cluster")
        raise AssertionError
    return cluster.id
