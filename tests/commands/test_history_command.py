"""``reconciler history``: the journal of a real demo apply as a timeline, its
filters (cluster, add-on, since), JSON, a forgotten cluster's kept history, and
bad input as one clear error."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the demo was applied once (demo-prod's coredns blocked)."""
    cwd = tmp_path_factory.mktemp("history")
    shutil.copy(EXAMPLES / "demo.yaml", cwd / "demo.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = run("apply", "demo.yaml", "--auto-approve", "--poll-interval", "0.05")
    assert result.exit_code == 1, result.output  # the blocked precheck, on purpose
    return cwd


@pytest.fixture
def in_applied(applied: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(applied)
    return applied


def records(*args: str) -> list[dict[str, Any]]:
    result = run("history", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_the_timeline_shows_every_cluster_oldest_first(in_applied: Path) -> None:
    result = run("history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIME", "CLUSTER", "ACTOR", "ACTION", "ADD-ON", "VERSIONS",
                                "RESULT", "PLAN"]
    assert {line.split()[2] for line in lines[1:]} == {"demo-prod", "demo-staging",
                                                       "demo-legacy"}
    blocked = [line for line in lines if "demo-prod" in line and " upgrade " in line
               and "coredns" in line]
    assert len(blocked) == 1 and "1.29.4 -> 1.30.33" in blocked[0] and "blocked" in blocked[0]
    times = [r["time"] for r in records()]
    assert times == sorted(times) and len(times) == len(lines) - 1


def test_filters_by_cluster_addon_and_since(in_applied: Path) -> None:
    everything = records()
    prod = records("demo-prod")
    assert prod and {r["cluster"] for r in prod} == {"demo-prod"}
    coredns = records("demo-prod", "--addon", "coredns")
    assert [(r["action"], r["result"]) for r in coredns] == [("precheck", "blocked"),
                                                             ("upgrade", "blocked")]
    assert records("--since", "1h") == everything
    assert records("--since", "30m", "--addon", "coredns") == [
        r for r in everything if r.get("addon") == "coredns"]
    # Older records fall out of the window.
    journal = in_applied / ".reconciler" / "state" / "demo-legacy.journal.jsonl"
    old = (datetime.now(UTC) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with journal.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"time": old, "action": "upgrade", "addon": "npd",
                              "result": "upgraded", "actor": "alice@ci"}) + "\n")
    legacy = records("demo-legacy")
    assert legacy[0]["time"] == old and legacy[0]["actor"] == "alice@ci"  # oldest first
    assert old not in [r["time"] for r in records("demo-legacy", "--since", "7d")]
    assert old in [r["time"] for r in records("demo-legacy", "--since", "9d")]
    text = run("history", "demo-legacy", "--addon", "npd").stdout.splitlines()
    assert text[1].split()[3:5] == ["alice@ci", "upgrade"]


def test_a_forgotten_cluster_keeps_its_history(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "demo.yaml", tmp_path / "demo.yaml")
    run("apply", "demo.yaml", "--auto-approve", "--poll-interval", "0.05",
        "--cluster", "demo-staging")
    before = records("demo-staging")
    result = run("state", "rm", "demo-staging")
    assert result.exit_code == 0 and "journal is kept" in result.stdout, result.output
    assert "demo-staging" not in run("state", "list").stdout
    after = records("demo-staging")
    assert after[:-1] == before and after[-1]["action"] == "state rm"
    assert sorted(after[-1]["addons"]) == sorted(
        r["addon"] for r in before if r["action"] != "precheck")
    assert "state rm" in run("history").stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "7 days"], "'7 days' is not a duration"),
    (["--since", "-1h"], "not a duration"),
    (["nope"], "no journal for cluster 'nope'"),
    (["--format", "yaml"], "'yaml' is not one of"),
])
def test_bad_input_is_one_clear_error(in_applied: Path, args: list[str], message: str) -> None:
    result = run("history", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_state_list_shows_versions_and_last_result_of_the_demo(in_applied: Path) -> None:
    result = run("state", "list")
    assert result.exit_code == 0, result.output
    rows = {(line.split()[0], line.split()[4]): line.split()[5:7]
            for line in result.stdout.splitlines()[1:-1]}
    assert rows[("demo-legacy", "everest")] == ["2.4.28", "upgraded"]
    assert rows[("demo-staging", "autoscaler")] == ["1.30.15", "installed"]
    assert ("demo-prod", "coredns") not in rows  # blocked: never managed
    document = json.loads(run("state", "list", "--format", "json").stdout)
    legacy = next(c for c in document["clusters"] if c["cluster"] == "demo-legacy")
    assert {a["name"]: a["version"] for a in legacy["addons"]} == {
        "coredns": "1.28.7", "everest": "2.4.28", "npd": "1.19.1"}
