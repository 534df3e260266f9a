"""Cloud errors name the cluster they belong to and the host:port that failed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli


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
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    expected = {
        "one": ("desired.yaml:6:3:", "6b400e1c-4368-11f0-ba56-0255ac100037", first),
        "two": ("desired.yaml:11:3:", "7c1f5a2e-4368-11f0-ba56-0255ac100037", first),
        "three": ("desired.yaml:16:3:", "8d2e6b3f-4368-11f0-ba56-0255ac100037", second),
    }
    for name, (where, cluster_id, port) in expected.items():
        mine = [line for line in errors if f"error: clusters.{name}:" in line]
        assert mine, result.stderr
        for line in mine:
            assert line.startswith(where), line
            assert cluster_id in line, line
            assert f"127.0.0.1:{port}" in line, line
            others = {i for n, (_, i, _) in expected.items() if n != name}
            assert not any(other in line for other in others), line
