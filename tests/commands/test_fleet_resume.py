"""The fleet example's halt and resume, as a user goes through it: the real CLI on
the packaged emulator://fleet, run from a fresh working directory (its own
.reconciler/). nginx-ingress 3.0.8 fails to install on the staging clusters, so
the canary halts; the user then removes it, declares it absent, or pins 2.6.5,
and applies again: the halted wave passes and the rollout completes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "fleet.yaml"
BASE = '        version: "~1.3"                        # newest 1.3.x the cluster supports\n'
SOAK = "      soak: 20s "
STAGING = ("fleet-staging-ap", "fleet-staging-eu")
FAST = ("--auto-approve", "--poll-interval", "0.05", "--soak-poll-interval", "0.5")


def fleet_file(cwd: Path, nginx: str) -> Path:
    """The example with ``nginx: …`` added to its base profile ("" adds nothing),
    and a 3 s canary soak (the example's 20 s would only make this slower)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(BASE) == 1 and text.count(SOAK) == 1
    text = text.replace(SOAK, "      soak: 3s  ")
    if nginx:
        text = text.replace(BASE, BASE + f"      nginx-ingress: {nginx}\n")
    path = cwd / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def apply(path: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["apply", path.name, *FAST, *args],
                                env={"NO_COLOR": "1"})
    document: dict[str, Any] = json.loads(result.stdout) if "json" in args else {}
    return result, document


def journal(cwd: Path, cluster: str) -> list[dict[str, Any]]:
    path = cwd / ".reconciler" / "state" / f"{cluster}.journal.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("fix", ["removed", "declared absent", "pinned 2.6.5"])
def test_a_halt_on_a_failed_install_resumes_once_the_file_is_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fix: str,
) -> None:
    # about 25 s: two applies of twelve clusters at the emulator's 10x speed
    monkeypatch.chdir(tmp_path)
    result, _ = apply(fleet_file(tmp_path, "{version: 3.0.8}"))
    assert result.exit_code == 1, result.output
    assert "Rollout halted at wave canary: later waves were not started." in result.stdout
    # the summary agrees with the report: halted, both canary clusters failed
    assert result.stdout.rstrip().endswith(
        "Apply halted at wave canary, 2 of 2 clusters failed (at most 0 tolerated):"
        " 8 done (2 installed, 6 upgraded (6 adopting)), 2 failed, 0 blocked.")
    assert "Apply complete" not in result.stdout
    # Nothing written for prod: only the (empty) lock files the rollout held.
    state_dir = tmp_path / ".reconciler" / "state"
    assert not [p for p in state_dir.glob("fleet-prod-*") if p.suffix != ".lock"]
    assert all(p.stat().st_size == 0 for p in state_dir.glob("fleet-prod-*.lock"))

    nginx = {"removed": "", "declared absent": "{state: absent}",
             "pinned 2.6.5": "{version: 2.6.5}"}[fix]
    result, document = apply(fleet_file(tmp_path, nginx), "--format", "json")
    assert result.exit_code == 0, result.output
    rollout = document["rollout"]
    assert rollout["stop"] == "completed" and document["ok"] is True
    assert [(w["name"], w["status"], w["failed"]) for w in rollout["waves"]] == [
        ("canary", "passed", []), ("prod", "passed", []), ("rest", "passed", [])]
    canary = rollout["waves"][0]
    # the canary's earlier changes were soaked again (they never passed its gate)
    assert canary["changed"] == list(STAGING) and canary["soak"] == "passed"
    outcomes = {(c["name"], a["addon"]): a["outcome"]
                for c in document["clusters"] for a in c["addons"]}
    for name in STAGING:
        soaked = next(r for r in journal(tmp_path, name) if r["action"] == "soak"
                      and r["plan_id"] == document["plan_id"])
        if fix == "pinned 2.6.5":
            assert outcomes[(name, "nginx-ingress")] == "repaired"
            assert "nginx-ingress" in soaked["addons"]
        else:
            # not declared present any more: not soaked, its open gate closed
            assert "nginx-ingress" not in soaked["addons"]
            closing = [r for r in journal(tmp_path, name) if r["action"] == "close"]
            assert [(r["result"], r["addons"]) for r in closing] == [
                ("dropped", ["nginx-ingress"])]
        if fix == "declared absent":
            assert outcomes[(name, "nginx-ingress")] == "deleted"
    # every prod and dev cluster was applied, wave by wave
    assert {c["name"] for c in document["clusters"]} >= {
        n for w in rollout["waves"][1:] for n in w["clusters"]}

    # converged: a third apply has nothing to change and nothing left to soak
    result, _ = apply(Path("fleet.yaml"))
    assert result.exit_code == 0, result.output
    assert "Nothing to apply." in result.output
