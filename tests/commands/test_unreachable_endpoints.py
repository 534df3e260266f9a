"""Cloud errors name the cluster they belong to and the host:port that failed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_each_unreachable_cluster_is_named_with_its_own_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _closed_port(), _closed_port()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desired.yaml").write_text(f"""\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
clusters:
  one:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    endpoint: http://127.0.0.1:{first}
    addons:
      coredns: {{}}
  two:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    endpoint: http://127.0.0.1:{first}
    addons:
      coredns: {{}}
  three:
    cluster_id: 8d2e6b3f-4368-11f0-ba56-0255ac100037
    endpoint: http://127.0.0.1:{second}
    addons:
      coredns: {{}}
""")
    env = {"HW_ACCESS_KEY": "AKUNREACHABLE", "HW_SECRET_KEY": "sk-never-shown-0123456789",
           # Ports on this machine: the operator's to allow, not the file's.
           "RECONCILER_ALLOWED_ENDPOINTS": f"http://127.0.0.1:{first} http://127.0.0.1:{second}"}

    result = CliRunner().invoke(cli, ["plan", "desired.yaml"], env=env)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "sk-never-shown" not in result.output
    # One line per unreachable endpoint (issue 21), at its first cluster's block,
    # naming its clusters; the plan on stdout doesn't repeat the error.
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        f"desired.yaml:6:3: error: cannot connect to 127.0.0.1:{first} (ConnectError):"
        " 2 clusters not checked: one, two",
        f"desired.yaml:16:3: error: cannot connect to 127.0.0.1:{second} (ConnectError):"
        " 1 cluster not checked: three",
    ], result.stderr
    assert "ConnectError" not in result.stdout
    assert result.stdout.count("could not be reached (see stderr)") == 3, result.stdout


def _fifty(port: int) -> str:
    clusters = "".join(
        f"  c{i:02d}:\n    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac1000{i:02d}\n"
        "    addons:\n      coredns: {}\n" for i in range(50))
    return ("apiVersion: reconciler/v1\ndefaults:\n  region: ap-southeast-1\n"
            "  project_id: 0504201b6c80256b2f08c0099f0c8fe4\n"
            f"  endpoint: http://127.0.0.1:{port}\nclusters:\n{clusters}")


@pytest.mark.parametrize("command", [
    ["plan", "desired.yaml"],
    ["apply", "desired.yaml", "--auto-approve"],
    ["drift", "desired.yaml"],
    ["drift", "desired.yaml", "--format", "prometheus", "--output", "drift.prom"],
])
def test_fifty_clusters_behind_one_dead_endpoint_make_one_line_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Issue 21: 50 identical ConnectError lines, on stdout and on stderr (263 lines)."""
    port = _closed_port()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desired.yaml").write_text(_fifty(port), encoding="utf-8")
    env = {"HW_ACCESS_KEY": "AKUNREACHABLE", "HW_SECRET_KEY": "sk-never-shown-0123456789",
           "NO_COLOR": "1", "RECONCILER_ALLOWED_ENDPOINTS": f"http://127.0.0.1:{port}"}
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 1, result.output
    unreachable = [line for line in result.stderr.splitlines() if "ConnectError" in line]
    assert unreachable == [
        f"desired.yaml:7:3: error: cannot connect to 127.0.0.1:{port} (ConnectError):"
        " 50 clusters not checked: c00, c01, c02, c03, c04 and 45 more"], result.stderr
    assert "ConnectError" not in result.stdout
    assert len(result.stderr.splitlines()) <= 3, result.stderr
    assert "Traceback" not in result.output
