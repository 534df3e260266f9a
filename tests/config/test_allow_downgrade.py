"""``allow_downgrade`` (issue 11, path 6): a per-add-on boolean, off by default."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_desired

DOC = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-prod:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    addons:
      metrics-server:
        version: 1.3.60
        allow_downgrade: VALUE
      coredns: {}
"""


def test_loads_into_the_addon_spec_and_defaults_to_false(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DOC.replace("VALUE", "true"), encoding="utf-8")
    (cluster,) = load_desired([path]).clusters
    metrics, coredns = cluster.addon("metrics-server"), cluster.addon("coredns")
    assert metrics is not None and metrics.allow_downgrade is True
    assert coredns is not None and coredns.allow_downgrade is False


def test_a_non_boolean_is_a_one_line_error_naming_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DOC.replace("VALUE", '"yes"'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert (f"{path}:12:26: error: clusters.demo-prod.addons.metrics-server.allow_downgrade: "
            'expected true or false, got "yes"') in result.output
    assert "Traceback" not in result.output
