"""Plans built by hand (no planner involved), shared by the view and plan file tests.

``change``, ``cluster`` and ``plan`` build the small one-off plans a test
needs, filling every field the test doesn't care about with a short
placeholder; ``everything_plan`` & co. are the representative plans behind
the golden files (tests/golden), so they must not change.

``SECRET`` and ``OLD_SECRET`` are real secret values held in memory: no
rendering, JSON form or plan file may ever contain them.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.plan import (
    Action,
    Change,
    ClusterPlan,
    FieldChange,
    FieldChangeKind,
    Plan,
    PrecheckFinding,
    ReadinessItem,
    ReadinessReport,
)

SECRET = "s3cr3t-AUTOSCALER-t0ken-9f2c"
OLD_SECRET = "0ld-s3cr3t-AUTOSCALER-41aa"
API_KEY = "sk-live-3f8e0c2b7d"  # under a key that only *looks* secret (no secret())

SALTS = {"prod-eu": "lineage-prod-eu", "prod-us": "lineage-prod-us", "staging": "lineage-stg"}

ADDED = FieldChangeKind.ADDED
REMOVED = FieldChangeKind.REMOVED
CHANGED = FieldChangeKind.CHANGED


def change(addon: str, action: Action, *field_changes: FieldChange, **fields: Any) -> Change:
    """A ``Change`` of ``addon``; any other ``Change`` field by keyword."""
    return Change(addon=addon, action=action, field_changes=field_changes, **fields)


def cluster(
    name: str,
    *changes: Change,
    cluster_id: str = "id",
    endpoint: str = "e",
    project_id: str = "p",
    region: str = "r",
    **fields: Any,
) -> ClusterPlan:
    """A ``ClusterPlan`` named ``name`` holding ``changes``; placeholders for
    the identity fields, any other field by keyword."""
    return ClusterPlan(
        name=name,
        cluster_id=cluster_id,
        endpoint=endpoint,
        project_id=project_id,
        region=region,
        changes=changes,
        **fields,
    )


def plan(
    *clusters: ClusterPlan,
    plan_id: str = "id",
    tool_version: str = "0.1.0",
    desired_digest: str = "d",
    **fields: Any,
) -> Plan:
    """A ``Plan`` of ``clusters``; placeholders for its identity, any other field by keyword."""
    return Plan(
        plan_id=plan_id,
        tool_version=tool_version,
        desired_digest=desired_digest,
        clusters=clusters,
        **fields,
    )


def _coredns_install() -> Change:
    return Change(
        addon="coredns",
        action=Action.INSTALL,
        after_version="1.30.33",
        values={
            "basic": {"swr_addr": "swr.example.com", "swr_user": "cce-addons"},
            "custom": {
                "cluster_id": "6b400e1c",
                "stub_domains": {"acme.local": ["10.0.0.53"]},
                "upstream_nameservers": ["10.0.0.2"],
            },
            "flavor": {"name": "5000", "replicas": 2},
        },
        field_changes=(
            FieldChange("basic.swr_addr", ADDED, after="swr.example.com"),
            FieldChange("custom.stub_domains.acme.local", ADDED, after=["10.0.0.53"]),
            FieldChange("custom.upstream_nameservers", ADDED, after=["10.0.0.2"]),
            FieldChange("flavor.replicas", ADDED, after=2),
        ),
        provenance={
            "basic.swr_addr": "default",
            "basic.swr_user": "default",
            "custom.cluster_id": "derived",
            "custom.stub_domains.acme.local": "desired",
            "custom.upstream_nameservers": "desired",
            "flavor.name": "desired",
            "flavor.replicas": "default",
        },
        reason="declared but not installed",
    )


def _autoscaler_upgrade() -> Change:
    return Change(
        addon="autoscaler",
        action=Action.UPGRADE,
        instance_id="uid-autoscaler",
        before_version="1.29.17",
        after_version="1.30.1",
        values={
            "custom": {
                "maxNodesTotal": 50,
                "password": SECRET,
                "webhook": {"token": SECRET, "url": "https://hooks.example.com/a`b"},
                "apiKey": API_KEY,
            }
        },
        field_changes=(
            FieldChange("custom.maxNodesTotal", CHANGED, before=30, after=50),
            FieldChange(
                "custom.password", CHANGED, before=OLD_SECRET, after=SECRET, sensitive=True
            ),
            # The planner forgot to mark this one; the key name alone must hide it.
            FieldChange("custom.apiKey", ADDED, after=API_KEY),
            FieldChange(
                "custom.webhook",
                ADDED,
                after={"token": SECRET, "url": "https://hooks.example.com/a`b"},
            ),
        ),
        provenance={
            "custom.maxNodesTotal": "desired",
            "custom.password": "desired",
            "custom.apiKey": "live",
            "custom.webhook.token": "desired",
            "custom.webhook.url": "desired",
        },
        sensitive_paths=frozenset({"custom.password", "custom.webhook.token"}),
        secret_sources={
            "custom.password": ("AUTOSCALER_TOKEN",),
            "custom.webhook.token": ("HOOK",),
        },
        reason="version 1.29.17 → 1.30.1 declared",
        depends_on=("metrics-server",),
        precheck_accept=("K8sResourceModified",),
        on_failure="rollback",
        timeout_seconds=900.0,
        findings=(
            PrecheckFinding(
                addon="autoscaler",
                risk="K8sResourceModified",
                level="Warning",
                status="Failed",
                message="deployment edited outside CCE",
                accepted=True,
                task_id="task-1",
            ),
            PrecheckFinding(
                addon="autoscaler",
                risk="AddonValidate",
                level="Fatal",
                status="Failed",
                message="values | rejected <by> server",
                task_id="task-1",
            ),
            PrecheckFinding(
                addon="autoscaler",
                risk="ApiCompat",
                level="Warning",
                status="Success",
                task_id="task-1",
            ),
        ),
    )


def everything_plan() -> Plan:
    """Every action kind, errors, findings, readiness, secrets and unmanaged add-ons."""
    prod_eu = ClusterPlan(
        name="prod-eu",
        cluster_id="6b400e1c-4368-11f0-ba56-0255ac100037",
        endpoint="https://cce.ap-southeast-1.myhuaweicloud.com",
        project_id="0504201b6c80256b2f08c0099f0c8fe4",
        region="ap-southeast-1",
        kubernetes_version="v1.29",
        state_lineage="3a1f0b4e-lineage",
        state_serial=7,
        live_fingerprint="sha256:abc123",
        changes=(
            Change(
                addon="metrics-server",
                action=Action.UPDATE,
                instance_id="uid-metrics",
                before_version="0.6.2",
                after_version="0.6.2",
                values={"custom": {"replicas": 2, "args": ["--kubelet-insecure-tls"]}},
                field_changes=(
                    FieldChange("custom.replicas", CHANGED, before=1, after=2),
                    FieldChange("custom.old_flag", REMOVED, before=True),
                ),
                provenance={"custom.replicas": "desired", "custom.args": "live"},
                reason="values differ from live",
            ),
            _autoscaler_upgrade(),
            _coredns_install(),
            Change(
                addon="npd",
                action=Action.DELETE,
                instance_id="uid-npd",
                before_version="1.18.10",
                reason="state: absent",
            ),
            Change(
                addon="everest",
                action=Action.NOOP,
                instance_id="uid-e",
                before_version="2.4.1",
                after_version="2.4.1",
            ),
        ),
        unmanaged=("gpu-beta", "volcano"),
        readiness=ReadinessReport(
            target_version="v1.31",
            task_id="ready-42",
            phase="Success",
            items=(
                ReadinessItem(
                    name="NodeDeprecatedAPI",
                    level="Warning",
                    phase="Failed",
                    message="deprecated API in use",
                    addons=("coredns",),
                ),
            ),
            unsupported_addons=("autoscaler@1.30.1",),
        ),
    )
    prod_us = ClusterPlan(
        name="prod-us",
        cluster_id="7c511f2d-0000-11f0-aaaa-0255ac100099",
        endpoint="https://cce.us-east-1.myhuaweicloud.com",
        project_id="1111",
        region="us-east-1",
        kubernetes_version="v1.30",
        changes=(
            Change(
                addon="everest",
                action=Action.UPDATE,
                adopting=True,
                instance_id="uid-ev",
                before_version="2.4.1",
                after_version="2.4.1",
                values={"custom": {"csi_attacher_worker_threads": "60"}},
                field_changes=(
                    FieldChange(
                        "custom.csi_attacher_worker_threads", CHANGED, before="30", after="60"
                    ),
                ),
                provenance={"custom.csi_attacher_worker_threads": "desired"},
                reason="values differ; adopting: not in the state file",
            ),
            Change(
                addon="coredns",
                action=Action.ADOPT,
                adopting=True,
                instance_id="uid-cd",
                before_version="1.30.33",
                after_version="1.30.33",
                reason="instance exists but is not in state",
            ),
            Change(
                addon="metrics-server",
                action=Action.REFRESH,
                instance_id="uid-ms",
                before_version="0.6.1",
                after_version="0.6.2",
                field_changes=(FieldChange("custom.replicas", CHANGED, before=1, after=3),),
                reason="the state lags live (version 0.6.1 → 0.6.2, values changed): recording"
                " live into the state; nothing is sent",
            ),
        ),
        errors=(
            Diagnostic(
                file="examples/prod.yaml",
                line=31,
                column=9,
                key_path="clusters.prod-us.addons.volcano.version",
                message="version 9.9.9 of volcano does not exist",
                hint="valid versions: 1.11.2, 1.12.0",
            ),
        ),
    )
    staging = ClusterPlan(
        name="staging",
        cluster_id="8d62",
        endpoint="emulator://demo",
        project_id="2222",
        region="ap-southeast-1",
        changes=(
            Change(
                addon="coredns",
                action=Action.NOOP,
                instance_id="u1",
                before_version="1.30.33",
                after_version="1.30.33",
            ),
        ),
        unmanaged=("everest",),
    )
    return Plan(
        plan_id="plan-0001",
        tool_version="0.1.0",
        desired_digest="sha256:feedbeef",
        clusters=(prod_eu, prod_us, staging),
        files=("examples/prod.yaml",),
        errors=(
            Diagnostic(
                file="examples/prod.yaml",
                line=3,
                column=1,
                key_path="defaults.endpoint",
                message="`endpoint` is deprecated here",
                hint="set it per cluster",
                severity="warning",
            ),
        ),
    )


def no_changes_plan() -> Plan:
    clusters = tuple(
        cluster(
            name,
            change(
                "coredns",
                Action.NOOP,
                instance_id="u",
                before_version="1.30.33",
                after_version="1.30.33",
            ),
            cluster_id=f"id-{name}",
            endpoint="emulator://demo",
            region="ap-southeast-1",
            kubernetes_version="v1.30",
        )
        for name in ("dev", "test")
    )
    return plan(*clusters, plan_id="plan-0002", desired_digest="sha256:00")


def errors_only_plan() -> Plan:
    return plan(
        plan_id="plan-0003",
        desired_digest="sha256:11",
        files=("bad.yaml",),
        errors=(
            Diagnostic(
                "bad.yaml",
                4,
                5,
                "clusters.a.addons.coredns.verison",
                "unknown key `verison`",
                "did you mean `version`?",
            ),
            Diagnostic("bad.yaml", 9, 3, "clusters.a.addons", "cycle in depends_on: a → b → a"),
        ),
    )


def large_plan(clusters: int, addons: int, keys: int) -> Plan:
    """Many clusters × add-ons × changed keys, deterministic, sizes growing with the index
    so that truncation has a clear largest section."""
    cluster_plans = []
    for c in range(clusters):
        width = keys + c  # later clusters are larger
        changes = [
            change(
                f"addon-{a:02d}",
                Action.UPDATE if a % 2 else Action.UPGRADE,
                *(
                    FieldChange(f"custom.setting_{k:03d}", CHANGED, before=k, after=k + 1)
                    for k in range(width)
                ),
                instance_id=f"uid-{c}-{a}",
                before_version="1.0.0",
                after_version="1.0.0" if a % 2 else "1.1.0",
                values={"custom": {f"setting_{k:03d}": k + 1 for k in range(width)}},
                reason="values differ from live",
            )
            for a in range(addons)
        ]
        cluster_plans.append(
            cluster(
                f"cluster-{c:04d}",
                *changes,
                cluster_id=f"cid-{c}",
                endpoint="emulator://demo",
                region="ap-southeast-1",
            )
        )
    return plan(*cluster_plans, plan_id="plan-large", desired_digest="sha256:22")
