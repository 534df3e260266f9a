"""Every output format of ``reconciler drift``, exit codes, --output, the
request budget, and that drift writes nothing anywhere."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from drift_helpers import BROKEN, LEGACY_ID, STAGING_ID, Cloud, addon, applied, cloud, report
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cloud import CloudSession, Credentials, RetryPolicy
from reconciler.config import load_desired
from reconciler.model.trust import EndpointRule
from reconciler.run.drift import detect_drift
from reconciler.statemgr.local import LocalBackend
from reconciler.views.drift import render_drift
from reconciler.views.driftjson import drift_to_json
from reconciler.views.driftmarkdown import DRIFT_MARKER

__all__ = ["cloud"]


def edit_coredns(cloud: Cloud) -> None:
    coredns = cloud.instance(STAGING_ID, "coredns")
    values = dict(coredns.values)
    values["custom"] = {**values["custom"], "upstream_nameservers": ["8.8.8.8"]}
    values["flavor"] = {**values["flavor"], "replicas": 7}
    cloud.api(lambda c: c.update(coredns.uid, STAGING_ID, "coredns", coredns.version, values,
                                 upgrade=False))


Key = tuple[str, tuple[tuple[str, str], ...]]


def samples(text: str) -> dict[Key, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def drift_sample(cluster: str, addon_name: str, kind: str) -> Key:
    return ("reconciler_addon_drift",
            (("addon", addon_name), ("cluster", cluster), ("kind", kind)))


def test_edited_addon_names_changed_keys_in_every_format(cloud: Cloud) -> None:
    applied(cloud)
    edit_coredns(cloud)
    keys = ("custom.upstream_nameservers[0]", "flavor.replicas")

    text = cloud.drift()
    assert text.exit_code == 2
    assert "demo-staging (7c1f5a2e-4368-11f0-ba56-0255ac100037): drifted" in text.stdout
    assert "coredns: values changed outside (last applied → live)" in text.stdout
    assert "~ flavor.replicas: 2 → 7" in text.stdout
    assert '+ custom.upstream_nameservers[0]: "8.8.8.8"' in text.stdout
    assert "demo-legacy (8d2e6b3f-4368-11f0-ba56-0255ac100037): clean" in text.stdout
    assert "\x1b[" not in text.stdout

    md = cloud.drift("--format", "markdown")
    assert md.exit_code == 2
    assert md.stdout.startswith(DRIFT_MARKER + "\n## Drift detected")
    assert "| `demo-staging` | ⚠️ drifted | `coredns` (values) |" in md.stdout
    assert "| `demo-legacy` | ✅ clean |  |" in md.stdout
    for key in keys:
        assert key in md.stdout
    assert md.stdout.count("```") % 2 == 0

    js = cloud.drift("--format", "json")
    assert js.exit_code == 2
    data = report(js)
    assert data["format"] == "reconciler-drift" and data["format_version"] == 2
    paths = [c["path"] for c in addon(data, "demo-staging", "coredns")["changed_outside"]["values"]]
    assert paths == list(keys)

    prom = cloud.drift("--format", "prometheus")
    assert prom.exit_code == 2
    found = samples(prom.stdout)
    assert found[drift_sample("demo-staging", "coredns", "values")] == 1
    assert found[drift_sample("demo-staging", "coredns", "version")] == 0
    assert found[drift_sample("demo-legacy", "coredns", "values")] == 0
    assert found[("reconciler_addon_healthy",
                  (("addon", "coredns"), ("cluster", "demo-staging")))] == 1
    assert found[("reconciler_cluster_drifted", (("cluster", "demo-staging"),))] == 1
    assert found[("reconciler_cluster_drifted", (("cluster", "demo-legacy"),))] == 0
    assert found[("reconciler_drift_success", (("cluster", "demo-staging"),))] == 1
    stamp = found[("reconciler_drift_last_run_timestamp_seconds", ())]
    assert abs(stamp - time.time()) < 120
    assert "# TYPE reconciler_addon_drift gauge" in prom.stdout
    assert prom.stdout.endswith("\n")


def test_failing_cluster_does_not_hide_the_others(cloud: Cloud) -> None:
    applied(cloud)
    edit_coredns(cloud)
    path = cloud.desired(BROKEN)

    result = cloud.cli("drift", str(path), "--format", "json")
    assert result.exit_code == 1
    data = report(result)
    statuses = {c["name"]: c["status"] for c in data["clusters"]}
    assert statuses == {"demo-staging": "drifted", "demo-legacy": "clean", "demo-gone": "error"}
    gone = next(c for c in data["clusters"] if c["name"] == "demo-gone")
    assert "00000000-dead-4000-8000-000000000000" in gone["errors"][0]["message"]
    assert gone["errors"][0]["location"].startswith(str(path))

    text = cloud.cli("drift", str(path))
    assert text.exit_code == 1
    assert "demo-gone (00000000-dead-4000-8000-000000000000): error" in text.stdout
    assert "coredns: values changed outside" in text.stdout

    prom = samples(cloud.cli("drift", str(path), "--format", "prometheus").stdout)
    assert prom[("reconciler_drift_success", (("cluster", "demo-gone"),))] == 0
    assert prom[("reconciler_drift_success", (("cluster", "demo-staging"),))] == 1
    # An unchecked cluster is not reported clean.
    assert ("reconciler_cluster_drifted", (("cluster", "demo-gone"),)) not in prom
    assert prom[drift_sample("demo-staging", "coredns", "values")] == 1


def test_drift_writes_nothing_and_keeps_the_plan_request_budget(cloud: Cloud) -> None:
    applied(cloud)
    edit_coredns(cloud)
    state_files = {p: p.read_bytes() for p in cloud.state_dir.rglob("*") if p.is_file()}
    assert state_files
    before = len(cloud.requests)

    assert cloud.drift("--format", "json").exit_code == 2

    sent = cloud.requests[before:]
    assert [m for m, _ in sent if m != "GET"] == []
    # One template list for the endpoint, one cluster GET and one add-on list per cluster.
    assert sorted(p.rsplit("/", 1)[-1] if "clusters/" in p else p for _, p in sent) == sorted([
        "/api/v3/addontemplates", "/api/v3/addons", "/api/v3/addons",
        "7c1f5a2e-4368-11f0-ba56-0255ac100037", "8d2e6b3f-4368-11f0-ba56-0255ac100037"])
    after = {p: p.read_bytes() for p in cloud.state_dir.rglob("*") if p.is_file()}
    assert after == state_files


def test_output_is_written_atomically_and_replaces_the_old_file(cloud: Cloud) -> None:
    applied(cloud)
    out = cloud.tmp / "collector" / "reconciler.prom"
    out.parent.mkdir()
    out.write_text("old\n", encoding="utf-8")
    inode = os.stat(out).st_ino

    result = cloud.drift("--format", "prometheus", "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert samples(text)[drift_sample("demo-staging", "coredns", "values")] == 0
    # A new file renamed over the old one: a reader holding the old one never
    # sees it change under it; no temporary file is left behind.
    assert os.stat(out).st_ino != inode
    assert sorted(p.name for p in out.parent.iterdir()) == ["reconciler.prom"]
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"


def test_unknown_format_is_a_usage_error(cloud: Cloud) -> None:
    cloud.desired()
    result = cloud.drift("--format", "yaml")
    # 1, not click's 2: 2 is "drift", which a cron job would take for a report.
    assert result.exit_code == 1
    assert "'yaml' is not one of" in result.output


def test_unreachable_endpoint_is_an_error_and_the_others_still_report(cloud: Cloud) -> None:
    applied(cloud)
    edit_coredns(cloud)
    # Per-cluster endpoints: demo-legacy's points at a port nobody listens on.
    path = cloud.tmp / "split.yaml"
    text = cloud.desired().read_text(encoding="utf-8").replace("  endpoint: emulator://demo\n", "")
    text = text.replace(f"    cluster_id: {STAGING_ID}\n",
                        f"    cluster_id: {STAGING_ID}\n    endpoint: {cloud.url}\n")
    text = text.replace(f"    cluster_id: {LEGACY_ID}\n",
                        f"    cluster_id: {LEGACY_ID}\n    endpoint: http://127.0.0.1:9\n")
    path.write_text(text, encoding="utf-8")
    # Ports on this machine: the operator allows them, the file can't.
    desired = load_desired([path], allowed_endpoints=EndpointRule((cloud.url,
                                                                   "http://127.0.0.1:9")))

    async def go() -> dict[str, Any]:
        account = cloud.emulator.account
        async with CloudSession(
                credentials=Credentials(access_key=account.access_key,
                                        secret_key=account.secret_key,
                                        project_id=account.project_id, region="ap-southeast-1"),
                retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01)) as s:
            found = await detect_drift(desired, s, LocalBackend(cloud.state_dir))
        return drift_to_json(found)

    data = asyncio.run(go())
    assert data["errored"] is True and data["drifted"] is True
    statuses = {c["name"]: c["status"] for c in data["clusters"]}
    assert statuses == {"demo-staging": "drifted", "demo-legacy": "error"}
    legacy = next(c for c in data["clusters"] if c["name"] == "demo-legacy")
    assert "cannot" in legacy["errors"][0]["message"]
    assert legacy["addons"] == []
    shown = render_drift(data, "text")
    assert "demo-legacy (8d2e6b3f-4368-11f0-ba56-0255ac100037): error" in shown
    assert "coredns: values changed outside" in shown
