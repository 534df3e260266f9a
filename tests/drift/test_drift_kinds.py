"""Each drift kind, produced by changing the emulator out of band through the
CCE API after an apply, and reported by ``reconciler drift`` (JSON format)."""

from __future__ import annotations

from drift_helpers import LEGACY_ID, STAGING_ID, Cloud, addon, applied, cloud, report

__all__ = ["cloud"]


def test_clean_after_apply_exits_0(cloud: Cloud) -> None:
    applied(cloud)
    result = cloud.drift("--format", "json")
    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["drifted"] is False
    assert data["summary"] == {"clusters": 2, "clean": 2, "drifted": 0, "error": 0}
    assert all(not a["kinds"] for c in data["clusters"] for a in c["addons"])


def test_values_edited_out_of_band(cloud: Cloud) -> None:
    applied(cloud)
    coredns = cloud.instance(STAGING_ID, "coredns")
    values = dict(coredns.values)
    values["custom"] = {**values["custom"], "upstream_nameservers": ["8.8.8.8"]}
    cloud.api(lambda c: c.update(coredns.uid, STAGING_ID, "coredns", coredns.version, values,
                                 upgrade=False))

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-staging", "coredns")
    assert found["kinds"] == ["values"]
    assert coredns.values["custom"]["upstream_nameservers"] == []
    assert found["changed_outside"]["values"] == [{
        "path": "custom.upstream_nameservers[0]", "kind": "added", "sensitive": False,
        "before": None, "after": "8.8.8.8"}]
    assert found["changed_outside"]["version"] is None
    # The files say nothing about that key, so the plan keeps the live value.
    assert found["pending"] is None


def test_version_changed_out_of_band(cloud: Cloud) -> None:
    applied(cloud)
    ms = cloud.instance(STAGING_ID, "metrics-server")
    cloud.api(lambda c: c.update(ms.uid, STAGING_ID, "metrics-server", "1.3.68", {},
                                 upgrade=True))

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-staging", "metrics-server")
    assert "version" in found["kinds"]
    assert found["changed_outside"]["version"] == {"before": "1.3.39", "after": "1.3.68"}
    assert found["state"]["version"] == "1.3.39"
    assert found["live"]["version"] == "1.3.68"


def test_deleted_out_of_band_is_missing_and_pending_reinstall(cloud: Cloud) -> None:
    applied(cloud)
    volcano = cloud.instance(STAGING_ID, "volcano")
    cloud.api(lambda c: c.delete(volcano.uid, STAGING_ID))

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-staging", "volcano")
    assert found["kinds"] == ["missing", "pending"]
    assert found["live"] is None
    assert found["state"]["uid"] == volcano.uid
    assert found["pending"]["action"] == "install"


def test_recreated_out_of_band(cloud: Cloud) -> None:
    applied(cloud)
    everest = cloud.instance(LEGACY_ID, "everest")
    cloud.api(lambda c: c.delete(everest.uid, LEGACY_ID))
    cloud.api(lambda c: c.install(LEGACY_ID, "everest", everest.version, dict(everest.values)))
    new = cloud.instance(LEGACY_ID, "everest")
    assert new.uid != everest.uid

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-legacy", "everest")
    assert found["kinds"] == ["recreated", "pending"]
    assert (found["state"]["uid"], found["live"]["uid"]) == (everest.uid, new.uid)
    assert found["pending"]["action"] == "adopt"


def test_installed_out_of_band_is_unmanaged_and_a_failed_install_unhealthy(cloud: Cloud) -> None:
    applied(cloud)
    # The demo scenario makes nginx-ingress 3.0.x installs on demo-legacy fail.
    cloud.api(lambda c: c.install(LEGACY_ID, "nginx-ingress", "3.0.8", {}))

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-legacy", "nginx-ingress")
    assert found["kinds"] == ["unmanaged", "unhealthy"]
    assert found["declared"] is False and found["managed"] is False
    live = found["live"]
    assert live["status"] == "installFailed"
    assert live["healthy"] is False
    assert live["reason"] == "InstallFailed"
    assert "admission webhook" in live["message"]
    # The other cluster is untouched.
    assert next(c for c in report(result)["clusters"] if c["name"] == "demo-staging")[
        "status"] == "clean"


def test_changed_declaration_is_pending(cloud: Cloud) -> None:
    applied(cloud)
    path = cloud.tmp / "desired.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("      volcano: {}\n",
                                 "      volcano: {version: 1.15.8}\n"), encoding="utf-8")

    result = cloud.drift("--format", "json")
    assert result.exit_code == 2, result.output
    found = addon(report(result), "demo-staging", "volcano")
    assert found["kinds"] == ["pending"]
    assert found["pending"]["action"] == "upgrade"
    assert "1.13.3 → 1.15.8" in found["pending"]["reason"]


def test_a_healthy_unmanaged_addon_is_reported_but_is_not_drift(cloud: Cloud) -> None:
    applied(cloud)
    # gpu-beta 2.1.31 installs fine on demo-legacy (api() lets emulated time pass).
    cloud.api(lambda c: c.install(LEGACY_ID, "gpu-beta", "2.1.31", {}))

    result = cloud.drift("--format", "json")
    found = addon(report(result), "demo-legacy", "gpu-beta")
    assert found["kinds"] == ["unmanaged"]
    assert found["live"]["healthy"] is True
    assert result.exit_code == 0, result.output
    assert report(result)["drifted"] is False
