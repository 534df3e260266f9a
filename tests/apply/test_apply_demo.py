"""The issue's "Done when", against emulator://demo exactly as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.statemgr import Journal
from reconciler.statemgr.local import LocalBackend

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[2] / "examples" / "demo.yaml"


def reconciler(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args, "--no-color"],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_plan_apply_plan_on_the_demo(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "demo.yaml")
    first = reconciler(tmp_path, "plan", "demo.yaml", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr

    applied = reconciler(tmp_path, "apply", "demo.yaml", "--auto-approve")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert ("demo-prod/coredns: upgrade blocked: precheck: AddonValidate (Fatal: cannot be"
            " accepted)"
            in applied.stdout)
    last = applied.stdout.strip().splitlines()[-1]
    assert last.startswith("Apply finished: ") and "0 failed, 1 blocked." in last, last
    assert "Apply complete" not in applied.stdout

    after = reconciler(tmp_path, "plan", "demo.yaml", "--format", "json")
    plan = json.loads(after.stdout)
    left = [(c["name"], ch["addon"], ch["action"]) for c in plan["clusters"]
            for ch in c["changes"] if ch["action"] != "no-op"]
    assert left == [("demo-prod", "coredns", "upgrade")]

    rest = reconciler(tmp_path, "plan", "demo.yaml", "--detailed-exitcode",
                      "--cluster", "demo-staging", "--cluster", "demo-legacy")
    assert rest.returncode == 0, rest.stdout + rest.stderr

    store = LocalBackend(tmp_path / ".reconciler" / "state")
    assert store.list() == ["demo-legacy", "demo-prod", "demo-staging"]
    prod = store.read("demo-prod")
    assert prod is not None and "npd" not in prod.addons
    assert prod.addons["everest"].version == "2.4.28"
    records = Journal(store.state_dir, "demo-prod").read()
    blocked = [r for r in records if r["addon"] == "coredns" and r["result"] == "blocked"]
    assert blocked and all(r["precheck_task_ids"] for r in blocked)
