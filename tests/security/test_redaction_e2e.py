"""End to end: credential and secret() literals never leave the process, on any channel.

The desired file copies each secret's text into plain, non-sensitive keys,
the one path where today's structural hashing cannot help (the copy is not a
``secret()`` leaf): every command of a plan → apply → drift → show cycle
would print it. We run them all against ``emulator://demo`` with ``-v`` and
look for the markers in stdout, stderr, log records and every file written.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

ACCESS_KEY = "AKMARKER-0001"
SECRET_KEY = 'SKMARKER"\\0002'
"""A quote and a backslash: JSON output holds it escaped, and that form must go too."""
TOKEN = "TOKENMARKER-0003"
NOTE = "NOTEMARKER-0004"
"""Read through ``secret('NOTE_SECRET')``."""
MISSING_CLUSTER = "deadbeef-0000-4000-8000-00000000cafe"
"""A token shaped like a cluster id: it ends up in request URLs, logs and errors."""

ENV = {"HW_ACCESS_KEY": ACCESS_KEY, "HW_SECRET_KEY": SECRET_KEY, "HW_AUTH_TOKEN": TOKEN,
       "NOTE_SECRET": NOTE, "RECONCILER_ALLOW_ENV": "NOTE_SECRET"}

DESIRED = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: {cluster_id}
    addons:
      coredns:
        version: 1.30.33
        flavor: "2500"
        allow_unknown_values: [custom.*]   # secrets at keys the template does not have
        values:
          custom:
            note: "{{{{ secret('NOTE_SECRET') }}}}-suffix"
            plain: "{note}-copy"
            akcopy: "ak={access_key}"
            skcopy: '{secret_key}'
            tokcopy: "{token}"
"""


def desired(directory: Path, cluster_id: str = "7c1f5a2e-4368-11f0-ba56-0255ac100037") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "desired.yaml"
    path.write_text(DESIRED.format(cluster_id=cluster_id, note=NOTE, access_key=ACCESS_KEY,
                                   secret_key=SECRET_KEY, token=TOKEN), encoding="utf-8")
    return path


def leaks(text: str) -> list[str]:
    needles = ["MARKER", MISSING_CLUSTER, json.dumps(SECRET_KEY)[1:-1]]
    return [n for n in needles if n in text]


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert not leaks(text), f"`reconciler {' '.join(args)}` {name} leaks:\n{text}"
    return result


# The in-process emulator's store plays the cloud: it holds what the tool sent,
# secrets included (as CCE would), so it is the one file not checked here.
EMULATOR_STORE = Path(".reconciler/emulator/demo.json")


def assert_no_file_leaks(root: Path) -> list[Path]:
    files = [p for p in root.rglob("*") if p.is_file() and p != root / EMULATOR_STORE]
    for path in files:
        found = leaks(path.read_bytes().decode("utf-8", "replace"))
        assert not found, f"{path} leaks {found}"
    return files


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         caplog: pytest.LogCaptureFixture) -> Path:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.slow
def test_plan_apply_drift_show_never_print_a_secret(
    work: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The input lives outside the walked directory: it holds the literals by design.
    source = str(desired(tmp_path / "input"))
    for fmt in ("text", "json", "markdown", "prometheus"):
        run("drift", source, "-v", "--format", fmt)
        run("drift", source, "-vv", "--format", fmt, "--output", f"reports/drift.{fmt}")
    for fmt in ("text", "json", "markdown"):
        shown = run("plan", source, "-vv", "--format", fmt, "--out", f"plans/{fmt}.plan.json")
        assert "(sensitive)-copy" in shown.stdout  # the copies were there, masked
        run("show", f"plans/{fmt}.plan.json", "--format", fmt)
    applied = run("apply", source, "-v", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    run("state", "show", "demo-staging")
    run("state", "show", "demo-staging", "--json")
    run("drift", source, "-v", "--format", "json", "--output", "reports/after.json")

    files = assert_no_file_leaks(work)
    names = {p.name for p in files}
    assert {"demo-staging.json", "demo-staging.journal.jsonl", "drift.json",
            "text.plan.json"} <= names, names  # state, journal, reports
    assert caplog.records, "-v produced no log records to check"
    assert not leaks(caplog.text), caplog.text


def test_errors_and_request_logs_are_masked(
    work: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cluster id is the token: it is in the request URL (logged at -v) and in the error.
    monkeypatch.setenv("HW_AUTH_TOKEN", MISSING_CLUSTER)
    source = str(desired(tmp_path / "input", cluster_id=MISSING_CLUSTER))
    result = run("plan", source, "-vv", "--out", "plan.json")
    assert result.exit_code == 1
    assert "(sensitive)" in result.stderr
    assert any("(sensitive)" in r.getMessage() for r in caplog.records)
    assert not leaks(caplog.text), caplog.text
    assert_no_file_leaks(work)


@pytest.mark.slow
def test_a_real_process_masks_its_streams(work: Path, tmp_path: Path) -> None:
    """Outside CliRunner: the interpreter's own stdout/stderr, as a cron job sees them."""
    source = str(desired(tmp_path / "input"))
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", source, "-vv", "--format", "json"],
        capture_output=True, text=True, env={**os.environ, **ENV}, cwd=work, timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "(sensitive)-copy" in done.stdout
    assert not leaks(done.stdout), done.stdout
    assert not leaks(done.stderr), done.stderr
    assert_no_file_leaks(work)
