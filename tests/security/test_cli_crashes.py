"""A new user's mistakes give one line, exit 1, no traceback, nothing sent.

Each case runs the real CLI in a subprocess (so an uncaught exception would
print a real traceback) against the in-process demo emulator, or against an
https endpoint that is never contacted because the check comes first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "examples" / "demo.yaml")
HUAWEI = "https://cce.ap-southeast-1.myhuaweicloud.com"
AK = "AKTESTVALUE0123456789"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("HW_", "CLOUD_SDK_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env={**clean, **env, "NO_COLOR": "1"}, cwd=tmp_path, timeout=60, check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]


COMMANDS = [["plan", DEMO], ["apply", DEMO, "--auto-approve"], ["drift", DEMO]]
IDS = ["plan", "apply", "drift"]


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_no_credentials_names_the_variables(tmp_path: Path, command: list[str]) -> None:
    result = run(tmp_path, *command, "--endpoint", HUAWEI)
    one_line_error(result, "HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_AUTH_TOKEN")
    assert not (tmp_path / ".reconciler").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_an_access_key_without_its_secret_key(tmp_path: Path, command: list[str]) -> None:
    result = run(tmp_path, *command, "--endpoint", HUAWEI, HW_ACCESS_KEY=AK)
    one_line_error(result, "HW_ACCESS_KEY is set", "HW_SECRET_KEY")
    assert AK not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_an_unknown_emulator_scenario_lists_the_known_ones(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(tmp_path, *command, "--endpoint", "emulator://nosuch")
    one_line_error(result, "'nosuch'", "emulator://demo")


# (Other malformed URLs are caught by the desired-state loader, with its own message.)
@pytest.mark.parametrize("url", ["https://[::1", "https://[::1]:99999"])
@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_malformed_endpoint_names_it_and_the_form(
    tmp_path: Path, command: list[str], url: str
) -> None:
    result = run(tmp_path, *command, "--endpoint", url, HW_AUTH_TOKEN="t0ken-value")
    one_line_error(result, repr(url), "https://HOST")
    assert "t0ken-value" not in result.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [(["plan", DEMO, "--out"], "--out"), (["drift", DEMO, "--output"], "--output")],
    ids=["plan", "drift"],
)
def test_an_unwritable_output_is_known_before_anything_is_sent(
    tmp_path: Path, command: list[str], option: str
) -> None:
    result = run(tmp_path, *command, "/proc/nope/plan.json")
    one_line_error(result, f"{option} /proc/nope/plan.json", "No such file or directory")
    # The emulator keeps its state beside the state dir: it was never started.
    assert not (tmp_path / ".reconciler").exists()


def test_an_output_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    one_line_error(run(tmp_path, "plan", DEMO, "--out", "out"), "--out out", "directory")


def test_plan_out_still_writes_atomically(tmp_path: Path) -> None:
    result = run(tmp_path, "plan", DEMO, "--out", "plans/p.json")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["p.json"]


@pytest.mark.parametrize("kind", ["directory", "fifo", "empty", "missing"])
def test_show_of_something_that_is_no_plan(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "thing.json"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif kind == "empty":
        target.write_text("", encoding="utf-8")
    result = run(tmp_path, "show", "thing.json")
    one_line_error(result, "thing.json")


@pytest.mark.parametrize("endpoint", ["https://[::1", "emulator://nosuch"])
def test_import_with_a_bad_endpoint(tmp_path: Path, endpoint: str) -> None:
    result = run(tmp_path, "import", "demo-prod", "everest", DEMO, "--endpoint", endpoint)
    one_line_error(result, repr(endpoint))


def test_import_without_credentials(tmp_path: Path) -> None:
    result = run(tmp_path, "import", "demo-prod", "everest", DEMO, "--endpoint", HUAWEI)
    one_line_error(result, "HW_ACCESS_KEY")
