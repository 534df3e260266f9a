"""An unknown cluster or add-on in force-unlock, state rm and import: exit 1,
the known names listed, and no file created (no stray ``.lock``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "demo.yaml", tmp_path / "demo.yaml")
    return tmp_path


@pytest.fixture
def managed(workdir: Path) -> Path:
    """demo-prod has a state file (coredns imported), so there are known names to list."""
    done = CliRunner().invoke(cli, ["import", "demo-prod", "coredns", "demo.yaml"])
    assert done.exit_code == 0, done.stderr
    return workdir


CASES = {
    "force-unlock cluster": (["force-unlock", "nosuch", "--yes"],
                             "no state or lock for cluster 'nosuch'", "clusters: demo-prod"),
    "state rm cluster": (["state", "rm", "nosuch", "coredns"],
                         "no state for cluster 'nosuch'", "clusters: demo-prod"),
    "state rm add-on": (["state", "rm", "demo-prod", "nosuch"],
                        "does not manage add-on 'nosuch'", "managed: coredns"),
    "import cluster, no files": (["import", "nosuch", "coredns", "--endpoint", "emulator://demo"],
                                 "no state for cluster 'nosuch'", "clusters: demo-prod"),
    "import cluster in files": (["import", "nosuch", "coredns", "demo.yaml"],
                                "unknown cluster `nosuch`", "demo-prod, demo-staging"),
    "import add-on": (["import", "demo-staging", "nosuch", "demo.yaml"],
                      "has no nosuch add-on installed", "installed: "),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unknown_name_exits_1_lists_the_known_and_creates_nothing(
    managed: Path, case: str
) -> None:
    before = _files(managed)
    args, says, known = CASES[case]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert says in result.stderr and known in result.stderr, result.stderr
    assert "Unlocked" not in result.output
    assert _files(managed) == before


def test_with_no_state_at_all_nothing_is_created(workdir: Path) -> None:
    for args in (["force-unlock", "nosuch", "--yes"], ["state", "rm", "nosuch", "x"],
                 ["import", "demo-prod", "nosuch", "demo.yaml"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "none" in result.stderr or "installed:" in result.stderr
    assert not (workdir / ".reconciler" / "state").exists()
