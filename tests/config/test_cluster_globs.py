"""``--cluster`` takes names and glob patterns."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

CLUSTER = """\
  {name}:
    cluster_id: {uuid}
    addons:
      coredns: {{}}
"""
HEAD = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
clusters:
"""


def _files(tmp_path: Path) -> Path:
    names = ["prod-eu", "prod-us", "staging-eu"]
    body = "".join(
        CLUSTER.format(name=n, uuid=f"6b400e1c-4368-11f0-ba56-0255ac10003{i}")
        for i, n in enumerate(names)
    )
    path = tmp_path / "desired.yaml"
    path.write_text(HEAD + body)
    return path


def test_a_pattern_selects_the_matching_clusters(tmp_path: Path) -> None:
    path = _files(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(path), "--cluster", "prod-*"])
    assert result.exit_code == 0, result.output
    assert "1 file valid: 2 clusters, 2 add-ons" in result.stdout


def test_names_and_patterns_combine(tmp_path: Path) -> None:
    path = _files(tmp_path)
    result = CliRunner().invoke(
        cli, ["validate", str(path), "--cluster", "staging-eu", "--cluster", "prod-u?"]
    )
    assert result.exit_code == 0, result.output
    assert "2 clusters" in result.stdout


def test_a_pattern_matching_nothing_lists_the_known_names(tmp_path: Path) -> None:
    path = _files(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(path), "--cluster", "dev-*"])
    assert result.exit_code == 1, result.output
    assert (
        "--cluster pattern `dev-*` matches no cluster (clusters in these files: prod-eu, "
        "prod-us, staging-eu)" in result.stderr
    )
