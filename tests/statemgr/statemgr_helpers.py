"""Builders and subprocess helpers shared by the statemgr tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reconciler.model.sensitive import sensitive_hash
from reconciler.model.state import ManagedAddon, StateFile

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SALT = "5f1c0e5ad2b64c4e9c1b7d1f3a2e9b10"


def coredns(version: str = "1.30.3", salt: str = SALT, password: str = "hunter2") -> ManagedAddon:
    values = {
        "basic": {"cluster_version": "v1.29", "swr_addr": "swr.cn-north-4.myhuaweicloud.com"},
        "custom": {
            "stub_domains": {"acme.local": ["10.0.0.10", "10.0.0.11"]},
            "upstream": {"auth": {"password": sensitive_hash(password, salt)}},
            "replicas": 2,
            "enabled": True,
            "ratio": 0.5,
            "note": None,
        },
    }
    return ManagedAddon(
        name="coredns",
        uid="4b8a0f8e-2f6c-11ef-9a3b-0255ac100b02",
        version=version,
        values=values,
        values_digest="sha256:" + "ab" * 32,
        applied_at="2024-05-01T10:00:00Z",
        plan_id="plan-7c1d",
        precheck_task_ids=("task-1", "task-2"),
        accepted_risks=("NodeOSRisk",),
        sensitive_paths=("custom.upstream.auth.password",),
    )


def sample_state(cluster_name: str = "prod", serial: int = 0) -> StateFile:
    everest = ManagedAddon(
        name="everest",
        uid="9d2e7b6c-2f6c-11ef-9a3b-0255ac100b02",
        version="2.4.9",
        values={"basic": {"region": "cn-north-4"}, "custom": {"labels": {"tier": "prod – é"}}},
        values_digest="sha256:" + "cd" * 32,
        applied_at="2024-05-01T10:05:00Z",
    )
    return StateFile(
        lineage="0e6a9c5b-4d3f-4a57-9a8e-2d6f1f0b7c11",
        serial=serial,
        cluster_name=cluster_name,
        cluster_id="c7f1e2a4-2f6c-11ef-9a3b-0255ac100b02",
        project_id="0a1b2c3d4e5f",
        salt=SALT,
        addons={"everest": everest, "coredns": coredns()},
    )


def python(code: str, *args: str) -> subprocess.Popen[str]:
    """A real Python process running ``code`` with the repo importable."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
