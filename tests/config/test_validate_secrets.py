"""``validate`` runs in a lint job without secrets; ``plan`` still needs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

DESIRED = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      autoscaler:
        values:
          custom:
            password: "{{ secret('AUTOSCALER_TOKEN') }}"
"""


@pytest.fixture
def desired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOSCALER_TOKEN", raising=False)
    monkeypatch.setenv("RECONCILER_ALLOW_ENV", "AUTOSCALER_TOKEN")  # the operator allows it
    path = tmp_path / "desired.yaml"
    path.write_text(DESIRED)
    return path


def test_validate_passes_with_the_secret_unset(desired: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(desired)])

    assert result.exit_code == 0, result.output
    assert "1 file valid: 1 cluster, 1 add-on" in result.stdout
    assert "AUTOSCALER_TOKEN" not in result.output


def test_validate_never_prints_a_set_secret(desired: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(desired)],
                                env={"AUTOSCALER_TOKEN": "Hunter2Secret"})

    assert result.exit_code == 0, result.output
    assert "Hunter2Secret" not in result.output


def test_plan_with_the_secret_unset_still_fails_naming_it(desired: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", str(desired)])

    assert result.exit_code == 1, result.output
    assert "secret environment variable `AUTOSCALER_TOKEN` is not set" in result.stderr
    assert "Traceback" not in result.output
    assert not (desired.parent / ".reconciler").exists()
