"""Small factories for engine tests: real model objects with realistic values."""

from __future__ import annotations

from typing import Any

from reconciler.model.desired import AddonSpec, ClusterSpec, DesiredState
from reconciler.model.live import (
    AddonInstance,
    AddonTemplate,
    Cluster,
    InstanceStatus,
    LiveCluster,
    SupportVersion,
    TemplateVersion,
)

CLUSTER_ID = "6b400e1c-4368-11f0-ba56-0255ac100037"
PROJECT_ID = "0504201b6c80256b2f08c0099f0c8fe4"


def cluster(version: str = "v1.28.3-r0", phase: str = "Available") -> Cluster:
    return Cluster(id=CLUSTER_ID, name="prod-eu", version=version, type="VirtualMachine",
                   category="CCE", phase=phase)


def support(*regexes: str) -> tuple[SupportVersion, ...]:
    return (SupportVersion(cluster_type="VirtualMachine", cluster_versions=regexes),)


def coredns_input(replicas_2500: int = 2) -> dict[str, Any]:
    return {
        "basic": {"cluster_ip": "10.247.3.10", "platform": "linux-amd64",
                  "swr_addr": "swr.example", "swr_user": "hwofficial"},
        "parameters": {
            "custom": {"stub_domains": "", "upstream_nameservers": "", "cache_ttl": 30,
                       "multiAZEnabled": False},
            "flavor1": {"name": 2500, "replicas": replicas_2500,
                        "resources": [{"name": "coredns", "limitsCpu": "500m",
                                       "limitsMem": "512Mi"}]},
            "flavor2": {"name": 5000, "replicas": 2,
                        "resources": [{"name": "coredns", "limitsCpu": "1000m",
                                       "limitsMem": "1024Mi"}]},
        },
    }


def coredns_template() -> AddonTemplate:
    return AddonTemplate(name="coredns", require=True, versions=(
        TemplateVersion("1.29.4", coredns_input(), support_versions=support(r"v1\.2[5-8]")),
        TemplateVersion("1.30.33", coredns_input(),
                        support_versions=support(r"v1\.(2[7-9]|3[01])")),
        TemplateVersion("1.31.0", coredns_input(), stable=False,
                        support_versions=support(r"v1\.(29|3[0-2])")),
    ))


def autoscaler_template() -> AddonTemplate:
    def version(v: str, regex: str) -> TemplateVersion:
        return TemplateVersion(v, {
            "basic": {"region": "ap-southeast-1"},
            "parameters": {"custom": {"cluster_id": "", "tenant_id": "", "maxNodesTotal": 1000,
                                      "scaleDownEnabled": True, "password": ""}},
        }, support_versions=support(regex))
    return AddonTemplate(name="autoscaler", versions=(
        version("1.28.10", r"v1\.28.*"), version("1.29.17", r"v1\.(28|29).*")))


def coredns_values(**custom: Any) -> dict[str, Any]:
    """What CCE returns for an instance installed with the defaults (flavor 2500)."""
    values = {
        "basic": {"cluster_ip": "10.247.3.10", "platform": "linux-amd64",
                  "swr_addr": "swr.example", "swr_user": "hwofficial"},
        "custom": {"stub_domains": "", "upstream_nameservers": "", "cache_ttl": 30,
                   "multiAZEnabled": False},
        "flavor": {"name": 2500, "replicas": 2,
                   "resources": [{"name": "coredns", "limitsCpu": "500m", "limitsMem": "512Mi"}]},
    }
    values["custom"].update(custom)
    return values


def instance(template: str, version: str, values: dict[str, Any], status: str = "running",
             uid: str | None = None) -> AddonInstance:
    return AddonInstance(uid=uid or f"uid-{template}", name=template, cluster_id=CLUSTER_ID,
                         template_name=template, version=version, values=values,
                         status=InstanceStatus(status=status))


def spec(name: str, **fields: Any) -> AddonSpec:
    return AddonSpec(name=name, **fields)


def cluster_spec(*addons: AddonSpec, name: str = "prod-eu", **fields: Any) -> ClusterSpec:
    return ClusterSpec(name=name, cluster_id=CLUSTER_ID, region="ap-southeast-1",
                       project_id=PROJECT_ID, endpoint="emulator://demo", addons=addons, **fields)


def desired(*clusters: ClusterSpec) -> DesiredState:
    return DesiredState(clusters=clusters, files=("prod.yaml",), digest="d" * 64)


def live(*instances: AddonInstance, k8s: str = "v1.28.3-r0",
         phase: str = "Available") -> LiveCluster:
    return LiveCluster(cluster=cluster(k8s, phase), instances=instances)


def templates() -> dict[str, AddonTemplate]:
    return {t.name: t for t in (coredns_template(), autoscaler_template())}
