"""engine.onboard + views.initfile: the live fleet → the file ``init`` writes,
read back by the config loader, which must give each cluster what it runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reconciler.config import load_desired
from reconciler.engine.onboard import onboard
from reconciler.model.live import AddonInstance, LiveCluster
from reconciler.model.trust import EnvRule
from reconciler.views.initfile import init_file_text
from tests.engine.engine_builders import (
    PROJECT_ID,
    cluster,
    coredns_values,
    instance,
    templates,
)


def _cluster(n: int, *instances: AddonInstance, env: str = "prod",
             k8s: str = "v1.28.3-r0") -> LiveCluster:
    base = cluster(k8s)
    # CCE's own feature label is no valid label value: left out of the file.
    live = dataclasses.replace(base, id=f"00000000-0000-4000-8000-{n:012d}", name=f"c{n}",
                               labels={"env": env, "FeatureGates": "elbv3,"})
    return LiveCluster(cluster=live, instances=tuple(
        dataclasses.replace(i, cluster_id=live.id) for i in instances))


def _coredns(flavor: int = 2500, **custom: Any) -> AddonInstance:
    values = coredns_values(**custom)
    if flavor == 5000:
        values["flavor"] = {"name": 5000, "replicas": 2, "resources": [
            {"name": "coredns", "limitsCpu": "1000m", "limitsMem": "1024Mi"}]}
    return instance("coredns", "1.30.33", values)


def _autoscaler(version: str, **custom: Any) -> AddonInstance:
    values = {"basic": {"region": "ap-southeast-1"},
              "custom": {"cluster_id": "", "tenant_id": PROJECT_ID, "maxNodesTotal": 1000,
                         "scaleDownEnabled": True, "password": "", **custom}}
    return instance("autoscaler", version, values)


def _read_back(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Any:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    # The operator allows the secret() variables init's comments name.
    desired = load_desired([str(path)], environ=environ or {},
                           allowed_env=EnvRule.of(list(environ or {})))
    return {c.name: {a.name: a for a in c.addons} for c in desired.clusters}


def _text(fleet: list[LiveCluster]) -> str:
    return init_file_text(onboard(fleet, templates(), project_id=PROJECT_ID),
                          region="ap-southeast-1", project_id=PROJECT_ID,
                          endpoint="emulator://demo", header="test")


def test_most_run_alike_goes_to_base_a_label_group_gets_its_own_profile(tmp_path: Path) -> None:
    fleet = [_cluster(n, _coredns(5000)) for n in range(4)]
    fleet += [_cluster(n, _coredns(2500), env="dev") for n in range(4, 6)]
    done = onboard(fleet, templates(), project_id=PROJECT_ID)
    assert [(p.name, p.clusters) for p in done.profiles] == [
        ("base", ("*",)), ("env-dev", ("env=dev",))]
    assert done.profiles[0].addons["coredns"].flavor == "5000"
    assert done.profiles[1].addons["coredns"].flavor == "2500"
    assert all(not c.addons for c in done.clusters)  # nothing left to say per cluster
    read = _read_back(tmp_path, _text(fleet))
    assert {name: addons["coredns"].flavor for name, addons in read.items()} == {
        "c0": "5000", "c1": "5000", "c2": "5000", "c3": "5000", "c4": "2500", "c5": "2500"}
    assert {a["coredns"].version for a in read.values()} == {"1.30.33"}
    assert [c.labels for c in done.clusters] == [{"env": "prod"}] * 4 + [{"env": "dev"}] * 2


def test_a_cluster_running_otherwise_overrides_the_profile(tmp_path: Path) -> None:
    fleet = [_cluster(n, _coredns(cache_ttl=60)) for n in range(3)]
    fleet.append(_cluster(3, _coredns()))  # at the default: must say so against base
    done = onboard(fleet, templates(), project_id=PROJECT_ID)
    assert done.profiles[0].addons["coredns"].values == {"custom": {"cache_ttl": 60}}
    assert done.clusters[3].addons["coredns"].values == {"custom": {"cache_ttl": 30}}
    read = _read_back(tmp_path, _text(fleet))
    assert [read[f"c{n}"]["coredns"].values["custom"]["cache_ttl"] for n in range(4)] == [
        60, 60, 60, 30]


def test_latest_where_each_runs_its_newest_and_derived_ids_are_not_written() -> None:
    fleet = [_cluster(0, _autoscaler("1.28.10"), k8s="v1.28.3-r0")]
    # 1.29.17 supports v1.28 too: a v1.28 cluster on 1.28.10 is not on its newest.
    fleet = [_cluster(n, _autoscaler("1.29.17"), k8s="v1.29.1-r0") for n in range(3)]
    done = onboard(fleet, templates(), project_id=PROJECT_ID)
    assert done.profiles[0].addons["autoscaler"].version == "1.29.17"
    mixed = [_cluster(0, _autoscaler("1.28.10"), k8s="v1.28.3-r0"),
             _cluster(1, _autoscaler("1.29.17"), k8s="v1.29.1-r0"),
             _cluster(2, _autoscaler("1.29.17"), k8s="v1.29.1-r0")]
    done = onboard(mixed, templates(), project_id=PROJECT_ID)
    assert done.profiles[0].addons["autoscaler"].version == "1.29.17"
    assert done.clusters[0].addons["autoscaler"].version == "1.28.10"
    text = _text(mixed)
    assert "tenant_id" not in text and "cluster_id: ''" not in text


def test_a_sensitive_value_becomes_a_secret_placeholder(tmp_path: Path) -> None:
    fleet = [_cluster(n, _autoscaler("1.29.17"), k8s="v1.29.1-r0") for n in range(2)]
    fleet.append(_cluster(2, _autoscaler("1.29.17", password="pa55-live", token=["tok-9zq", 2]),
                          k8s="v1.29.1-r0"))
    done = onboard(fleet, templates(), project_id=PROJECT_ID)
    assert done.secrets == ("C2_AUTOSCALER_CUSTOM_PASSWORD", "C2_AUTOSCALER_CUSTOM_TOKEN_0")
    text = _text(fleet)
    assert "pa55-live" not in text and "tok-9zq" not in text
    assert ("password: \"{{ secret('C2_AUTOSCALER_CUSTOM_PASSWORD') }}\"  # not copied from"
            " the cluster: set C2_AUTOSCALER_CUSTOM_PASSWORD") in text
    read = _read_back(tmp_path, text, {"C2_AUTOSCALER_CUSTOM_PASSWORD": "pa55-live",
                                       "C2_AUTOSCALER_CUSTOM_TOKEN_0": "tok-9zq"})
    spec = read["c2"]["autoscaler"]
    assert spec.values["custom"]["password"] == "pa55-live"
    assert spec.values["custom"]["token"] == ["tok-9zq", 2]
    assert "custom.password" in spec.secret_sources


def test_jinja_in_live_values_is_written_back_verbatim(tmp_path: Path) -> None:
    odd = "{{ not_a_var }} {% if %} {# no #} 'quoted' \"double\""
    fleet = [_cluster(0, _coredns(stub_domains=odd)), _cluster(1, _coredns())]
    read = _read_back(tmp_path, _text(fleet))
    assert read["c0"]["coredns"].values["custom"]["stub_domains"] == odd


def test_cce_installed_unchanged_add_ons_are_marked() -> None:
    fleet = [_cluster(n, _coredns(), _autoscaler("1.29.17"), k8s="v1.29.1-r0")
             for n in range(2)]
    text = _text(fleet)
    assert "coredns: {version: 1.30.33}  # installed by CCE" in text
    assert "autoscaler: {version: 1.29.17}\n" in text  # not one CCE installs
    alone = _text(fleet[:1])  # no profile: marked in the cluster's own block
    assert "coredns: {version: 1.30.33}  # installed by CCE with the cluster" in alone
