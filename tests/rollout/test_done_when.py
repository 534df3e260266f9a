"""Issue 14's "Done when", as a new user does it, all through real processes:
``reconciler emulator serve --generate 50 --write-desired fleet.yaml`` on a
socket; plan (no changes); one edit of the ``base`` profile rolls everest to
its newest version, which a rules file makes fail; ``apply`` halts at the
canary wave with no other cluster touched; the rule is lifted (the bad
release replaced) and ``apply`` resumes and finishes wave by wave; plan and
drift are then clean (docs/rollout.md, "Try it on a generated fleet")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.slow

CLUSTERS = 50
OLD, NEW = "2.4.7", "2.4.28"
"""everest as generated (one below the newest) and its newest: the "bad version"."""

BAD_RULE = f"""\
failure_rules:
  - template: everest
    operation: upgrade
    version: {re.escape(NEW)}
    message: "helm upgrade failed: the CSI driver crash-loops"
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The served fleet: its URL and the token its banner says to export."""
    (tmp_path / "rules.yaml").write_text("", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--generate", str(CLUSTERS),
         "--port", "0", "--write-desired", "fleet.yaml", "--rules", "rules.yaml",
         "--time-scale", "200", "--state-file", "emulator-state.json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].lstrip().startswith("reconciler plan"):
            line = proc.stdout.readline()
            assert line, "serve ended early:\n" + "".join(banner)
            banner.append(line.rstrip("\n"))
        token = re.search(r"export HW_AUTH_TOKEN=(\S+)", "\n".join(banner))
        assert token is not None, banner
        assert f"export RECONCILER_ALLOWED_ENDPOINTS={banner[0].split()[3]}" in banner[-2]
        yield banner[0].split()[3], token.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _cli(tmp_path: Path, fleet: tuple[str, str],
         *args: str) -> subprocess.CompletedProcess[str]:
    # What the banner says to do: the token exported, no key pair around, the
    # emulator's endpoint allowed (a file can't allow a port on this machine).
    url, token = fleet
    env = {k: v for k, v in os.environ.items()
           if k not in ("HW_ACCESS_KEY", "HW_SECRET_KEY", "CLOUD_SDK_AK", "CLOUD_SDK_SK")}
    env.update(HW_AUTH_TOKEN=token, NO_COLOR="1", RECONCILER_ALLOWED_ENDPOINTS=url)
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def _everest(url: str, token: str, clusters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each cluster's live everest instance, read from the server."""
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, headers={"X-Auth-Token": token}) as http:
        for name, entry in clusters.items():
            items = http.get("/api/v3/addons",
                             params={"cluster_id": entry["cluster_id"]}).json()["items"]
            found[name] = next(i for i in items if i["spec"]["addonTemplateName"] == "everest")
    return found


def test_a_bad_version_halts_at_the_canary_and_the_fix_resumes_wave_by_wave(
        tmp_path: Path, fleet: tuple[str, str]) -> None:
    url, token = fleet
    desired = tmp_path / "fleet.yaml"
    doc = yaml.safe_load(desired.read_text(encoding="utf-8"))
    clusters: dict[str, Any] = doc["clusters"]
    assert len(clusters) == CLUSTERS
    canaries = {n for n, c in clusters.items() if c["labels"]["env"] == "staging"}
    assert canaries == {"bench-00000", "bench-00001"}
    others = set(clusters) - canaries

    # 1. What runs is what the file says: nothing to change on the cloud (a
    # first plan only adopts what runs into the state).
    first = _cli(tmp_path, fleet, "plan", "fleet.yaml")
    assert first.returncode == 0, first.stderr
    assert "0 to install, 0 to upgrade, 0 to update, 0 to delete" in first.stdout, first.stdout

    # 2. The "bad version": one line of the profile, for the whole fleet.
    text = desired.read_text(encoding="utf-8")
    line = f"      everest: {{version: {OLD}}}\n"
    assert text.count(line) == 1, "everest is not in the base profile"
    # The written canary soak (30 s) is for people watching; a test soaks 2 s.
    text = text.replace(line, f"      everest: {{version: {NEW}}}\n")
    desired.write_text(text.replace("soak: 30s", "soak: 2s"), encoding="utf-8")
    planned = _cli(tmp_path, fleet, "plan", "fleet.yaml", "--format", "json")
    assert planned.returncode == 0, planned.stderr
    upgrades = {c["name"]: c["wave"] for c in yaml.safe_load(planned.stdout)["clusters"]
                for ch in c["changes"] if ch["addon"] == "everest" and ch["action"] == "upgrade"}
    assert set(upgrades) == set(clusters)
    assert {upgrades[n] for n in canaries} == {"canary"}
    # Grouped: the one change is shown once per wave, not 50 times.
    shown = _cli(tmp_path, fleet, "plan", "fleet.yaml").stdout
    assert shown.count(f"everest: upgrade (adopting) {OLD} → {NEW}") == 3, shown

    # 3. The release is bad: the server fails the upgrade (it re-reads the file).
    (tmp_path / "rules.yaml").write_text(BAD_RULE, encoding="utf-8")
    halted = _cli(tmp_path, fleet, "apply", "fleet.yaml", "--auto-approve")
    assert halted.returncode == 1, halted.stdout + halted.stderr
    report = halted.stdout[halted.stdout.index("Rollout halted"):]
    assert report.startswith("Rollout halted at wave canary: later waves were not started.")
    for name in sorted(canaries):
        assert (f"- {name}/everest: upgrade failed: the add-on failed (status upgradeFailed; "
                "message: helm upgrade failed: the CSI driver crash-loops)") in report, report
    assert f"prod: not started ({len(others) - 4} clusters)" in report
    assert "rest: not started (4 clusters)" in report
    assert "To resume: fix the cause, then run reconciler apply fleet.yaml --auto-approve" in report
    assert "wave prod: starting" not in halted.stderr

    # No other cluster touched: live, every one still runs the old everest and
    # was never upgraded (an upgrade sets previousVersion, even a failed one).
    live = _everest(url, token, clusters)
    for name in canaries:
        assert (live[name]["spec"]["version"], live[name]["status"]["status"]) == (
            NEW, "upgradeFailed")
    untouched = {n: (live[n]["spec"]["version"], live[n]["status"]["status"],
                     live[n]["status"].get("previousVersion") or "") for n in others}
    assert set(untouched.values()) == {(OLD, "running", "")}, untouched
    # … and not recorded: no state or journal exists for them (only the empty
    # lock files of the fleet the rollout held for its run: docs/rollout.md).
    state_dir = tmp_path / ".reconciler" / "state"
    recorded = {p.name for p in state_dir.rglob("*")
                if p.is_file() and not (p.suffix == ".lock" and p.stat().st_size == 0)}
    assert not any(name in entry for name in others for entry in recorded), recorded

    # 4. The fix (the bad release replaced): lift the rule, apply again.
    (tmp_path / "rules.yaml").write_text("", encoding="utf-8")
    started = time.monotonic()
    resumed = _cli(tmp_path, fleet, "apply", "fleet.yaml", "--auto-approve")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # Wave by wave: each passed before the next started.
    progress = [m.group(1, 2) for m in re.finditer(r"wave (\w+): (starting|passed)",
                                                  resumed.stderr)]
    assert progress == [("canary", "starting"), ("canary", "passed"), ("prod", "starting"),
                        ("prod", "passed"), ("rest", "starting"), ("rest", "passed")], (
        resumed.stderr)
    assert "wave canary: soaking" in resumed.stderr
    assert "Rollout complete: 3 of 3 waves passed." in resumed.stdout
    assert time.monotonic() - started < 60
    live = _everest(url, token, clusters)
    assert {(e["spec"]["version"], e["status"]["status"]) for e in live.values()} == {
        (NEW, "running")}

    # 5. Converged: nothing left to plan, no drift.
    final = _cli(tmp_path, fleet, "plan", "fleet.yaml", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr
    drift = _cli(tmp_path, fleet, "drift", "fleet.yaml")
    assert drift.returncode == 0, drift.stdout + drift.stderr
    # The token it was given is nowhere in what it printed.
    for done in (first, halted, resumed, final, drift):
        assert token not in done.stdout + done.stderr
