"""``-v``/``-vv`` and ``--log-file``: every request logged, nothing secret in it.

The cloud credentials are markers and the desired file holds a ``secret()``
that plan --precheck and apply send in request bodies (which ``-vv`` logs);
the control ``env()`` value in the same body proves the bodies were logged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

STAGING_ID = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
SECRET = "logmark-secret-value-8e41"
CONTROL = "logmark-control-value-2b7"
CREDENTIALS = {
    "HW_ACCESS_KEY": "logmark-access-key-51b0",
    "HW_SECRET_KEY": "logmark-secret-key-51b0",
    "HW_AUTH_TOKEN": "logmark-auth-token-51b0",
    "HW_SECURITY_TOKEN": "logmark-security-token-51b0",
}
MARKERS = (SECRET, *CREDENTIALS.values())

DESIRED = f"""\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: {STAGING_ID}
    addons:
      coredns:
        version: 1.30.33
        flavor: "2500"
        allow_unknown_values: [custom.resolver_label, custom.note]
        values:
          custom:
            resolver_label: "{{{{ secret('LOG_SECRET') }}}}"
            note: "{{{{ env('LOG_CONTROL') }}}}"
"""

REQUEST_LINE = re.compile(
    r"^INFO reconciler\.cloud: (GET|POST|PUT|DELETE) /api/\S+ -> \d{3} in \d+ ms"
    r" \(attempt \d+, request id \w+\)$", re.MULTILINE)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in {**CREDENTIALS, "LOG_SECRET": SECRET, "LOG_CONTROL": CONTROL,
                        "RECONCILER_ALLOW_ENV": "LOG_SECRET LOG_CONTROL"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "desired.yaml").write_text(DESIRED)
    return tmp_path


def _no_marker(text: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"{marker} leaked into {where}"


def test_v_logs_every_request_on_stderr(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "desired.yaml", "-v", "--no-color"])
    assert result.exit_code == 0, result.stderr
    lines = REQUEST_LINE.findall(result.stderr)
    # The templates, then per cluster its GET and its add-on list.
    assert len(lines) >= 3, result.stderr
    assert f"GET /api/v3/addons?cluster_id={STAGING_ID} -> 200" in result.stderr
    assert "body" not in result.stderr  # bodies are -vv's
    assert "HTTP Request:" not in result.stderr  # httpx's own duplicate line is quiet
    _no_marker(result.stderr + result.stdout, "plan -v")


def test_without_v_nothing_is_logged(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "desired.yaml", "--no-color"])
    assert result.exit_code == 0, result.stderr
    assert not REQUEST_LINE.search(result.stderr)


@pytest.mark.parametrize("command", [
    ["plan", "desired.yaml", "--precheck"],
    ["apply", "desired.yaml", "--auto-approve", "--poll-interval", "0.05"],
])
def test_vv_and_log_file_show_bodies_but_never_a_secret(
    workdir: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*command, "-vv", "--log-file", "support.jsonl",
                                      "--no-color"])
    assert result.exit_code in (0, 1), result.stderr
    assert "request body:" in result.stderr and CONTROL in result.stderr
    _no_marker(result.stderr + result.stdout, " ".join(command))

    text = (workdir / "support.jsonl").read_text()
    _no_marker(text, "--log-file")
    records = [json.loads(line) for line in text.splitlines()]
    requests = [r for r in records if "status" in r]
    assert requests, text
    for record in requests:
        assert {"time", "level", "logger", "message", "method", "path", "status",
                "duration_ms", "attempt", "request_id"} <= set(record), record
    posted = [r for r in records if r["message"].startswith("POST ")
              and "request body:" in r["message"]]
    assert posted and any(CONTROL in r["message"] for r in posted)
    assert any("(sensitive)" in r["message"] for r in posted)
    assert (workdir / "support.jsonl").stat().st_mode & 0o077 == 0


def test_reconciler_log_env_names_the_log_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_LOG", str(workdir / "from-env.jsonl"))
    result = CliRunner().invoke(cli, ["plan", "desired.yaml", "--no-color"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in (workdir / "from-env.jsonl").read_text().splitlines()]
    assert any(r.get("status") == 200 for r in records)
    assert not REQUEST_LINE.search(result.stderr)  # the file, not stderr, without -v


def test_an_unwritable_log_file_is_a_usage_error(workdir: Path) -> None:
    (workdir / "adir").mkdir()
    result = CliRunner().invoke(cli, ["plan", "desired.yaml", "--log-file", "adir"])
    assert result.exit_code == 1, result.output
    assert "--log-file" in result.stderr
    assert not (workdir / ".reconciler").exists()
