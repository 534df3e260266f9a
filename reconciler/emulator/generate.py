"""Generated scenarios: N labelled clusters × up to 8 add-ons, for benchmarks and
for ``emulator serve --generate`` (a fleet to roll changes across)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from reconciler.emulator.scenario import (
    ClusterSpec,
    InstanceSeed,
    Scenario,
    TemplateSpec,
    TemplateVersionSpec,
    default_values,
    demo_scenario_path,
    load_scenario,
)
from reconciler.emulator.store import version_key

__all__ = ["HEADROOM", "fleet_labels", "generate_scenario"]

HEADROOM = frozenset({"everest"})
"""Templates a generated cluster runs one version below the newest it supports,
so the fleet has something to roll out: edit everest to its newest version and
``apply`` upgrades every cluster (issue 14's "a bad version halts at the
canary"). Every other add-on runs its newest supported version."""

_K8S_VERSIONS = ("v1.28", "v1.29", "v1.30")
_REGIONS = ("ap", "eu", "us")
_TIERS = ("gold", "silver", "bronze", "bronze")


def fleet_labels(index: int, clusters: int) -> dict[str, str]:
    """The labels of the ``index``-th of ``clusters`` generated clusters, by
    position only (not the seed), so a fleet's waves are predictable:

    - ``env``: the first ``max(1, clusters // 20)`` are ``staging`` (the
      canaries), then every tenth is ``dev``, the others ``prod``;
    - ``region``: ``ap``, ``eu``, ``us`` in turn;
    - ``tier``: ``gold``, ``silver``, ``bronze``, ``bronze`` in turn.
    """
    canaries = max(1, clusters // 20)
    rank = index - canaries
    env = "staging" if rank < 0 else "dev" if rank % 10 == 9 else "prod"
    return {"env": env, "region": _REGIONS[index % len(_REGIONS)],
            "tier": _TIERS[index % len(_TIERS)]}


def generate_scenario(clusters: int, addons_per_cluster: int = 8, seed: int = 0) -> Scenario:
    """The demo's account and eight templates; ``clusters`` clusters
    (``bench-00000`` …) on v1.28–v1.30 labelled by :func:`fleet_labels`, each
    running ``addons_per_cluster`` add-ons at the newest version supporting it
    (for the :data:`HEADROOM` templates the one before, where there is one),
    values = template defaults (first flavor, cluster and project ids filled
    in). Deterministic per seed."""
    demo = load_scenario(demo_scenario_path())
    if not 0 <= addons_per_cluster <= len(demo.templates):
        raise ValueError(f"addons_per_cluster must be between 0 and {len(demo.templates)}")
    assert demo.account is not None
    project_id = demo.account.project_id
    rng = random.Random(seed)
    specs: list[ClusterSpec] = []
    seeds: list[InstanceSeed] = []
    # One defaults mapping per template version, shared by every instance except
    # for a fresh ``custom`` (which carries the ids): 80,000 deep copies would
    # take seconds. Nothing mutates values in place (updates replace them).
    shared: dict[int, dict[str, Any]] = {}
    chosen: dict[tuple[str, str], TemplateVersionSpec | None] = {}
    for n in range(clusters):
        cluster_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        cluster = ClusterSpec(id=cluster_id, name=f"bench-{n:05d}",
                              version=rng.choice(_K8S_VERSIONS),
                              labels=fleet_labels(n, clusters))
        specs.append(cluster)
        for template in demo.templates[:addons_per_cluster]:
            tv = _running(chosen, template, cluster)
            if tv is None:
                continue
            seeds.append(InstanceSeed(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                cluster_id=cluster_id, template=template.name, version=tv.version,
                values=_values(shared, tv, cluster_id, project_id)))
    return Scenario(clusters=tuple(specs), templates=demo.templates, instances=tuple(seeds),
                    precheck_rules=(), failure_rules=(), timing=demo.timing,
                    account=demo.account, source=f"<generated clusters={clusters} seed={seed}>")


def _values(shared: dict[int, dict[str, Any]], tv: TemplateVersionSpec, cluster_id: str,
            project_id: str) -> dict[str, Any]:
    defaults = shared.get(id(tv))
    if defaults is None:
        defaults = shared[id(tv)] = default_values(tv)
    custom = dict(defaults["custom"])
    for key, value in (("cluster_id", cluster_id), ("tenant_id", project_id),
                       ("project_id", project_id)):
        if custom.get(key) == "":
            custom[key] = value
    return {**defaults, "custom": custom}


def _running(cache: dict[tuple[str, str], TemplateVersionSpec | None], template: TemplateSpec,
             cluster: ClusterSpec) -> TemplateVersionSpec | None:
    """The version ``cluster`` runs of ``template``: its newest supporting one,
    or the one before for a :data:`HEADROOM` template (cached per minor: 100,000
    clusters share three Kubernetes versions)."""
    key = (template.name, cluster.version)
    if key not in cache:
        usable = sorted((v for v in template.versions
                         if v.supports(cluster.type, cluster.category, cluster.version)),
                        key=lambda v: version_key(v.version))
        back = 2 if template.name in HEADROOM and len(usable) >= 2 else 1
        cache[key] = usable[-back] if usable else None
    return cache[key]
