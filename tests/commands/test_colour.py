"""NO_COLOR, FORCE_COLOR and --no-color, in real processes on a pseudo-terminal.

click.echo strips escape codes when stdout is not a terminal, and a terminal is
where colour is on by default: only a real pty (and a pipe for FORCE_COLOR)
shows what a user sees.
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ESC = "\x1b["

COMMANDS = {
    "plan": ["plan", "demo.yaml"],
    "drift": ["drift", "demo.yaml"],
    "show": ["show", "demo.plan.json"],
    "validate": ["validate", "demo.yaml"],
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


def _on_a_terminal(cwd: Path, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on one pty; everything it printed, and its exit code."""
    master, slave = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=slave, stderr=slave) as proc:
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        code = proc.wait(timeout=120)
    return code, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "examples" / "demo.yaml", tmp_path / "demo.yaml")
    saved = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "demo.yaml", "--out", "demo.plan.json"],
        cwd=tmp_path, capture_output=True, text=True, check=False, env=_env(),
    )
    assert saved.returncode == 0, saved.stderr
    return tmp_path


def test_a_terminal_gets_colour_by_default(workdir: Path) -> None:
    # The control: without it the NO_COLOR test below could pass on a colourless view.
    code, shown = _on_a_terminal(workdir, COMMANDS["plan"], _env())
    assert code == 0, shown
    assert ESC in shown


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_color_on_a_terminal_prints_no_escape_codes(workdir: Path, command: str) -> None:
    code, shown = _on_a_terminal(workdir, COMMANDS[command], _env(NO_COLOR="1"))
    assert code in (0, 2), shown
    assert ESC not in shown, repr(shown)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_no_color_flag_on_a_terminal_prints_no_escape_codes(
    workdir: Path, command: str
) -> None:
    code, shown = _on_a_terminal(workdir, [*COMMANDS[command], "--no-color"],
                                 _env(FORCE_COLOR="1"))
    assert code in (0, 2), shown
    assert ESC not in shown, repr(shown)


@pytest.mark.parametrize("command", ["plan", "drift", "show"])
def test_force_color_without_a_terminal_colours(workdir: Path, command: str) -> None:
    done = subprocess.run([sys.executable, "-m", "reconciler", *COMMANDS[command]],
                          cwd=workdir, capture_output=True, text=True, check=False,
                          env=_env(FORCE_COLOR="1"))
    assert done.returncode in (0, 2), done.stderr
    assert ESC in done.stdout


def test_without_a_terminal_or_force_color_there_is_no_colour(workdir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "reconciler", *COMMANDS["plan"]],
                          cwd=workdir, capture_output=True, text=True, check=False, env=_env())
    assert ESC not in done.stdout


def test_no_color_wins_over_force_color(workdir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "reconciler", *COMMANDS["plan"]],
                          cwd=workdir, capture_output=True, text=True, check=False,
                          env=_env(FORCE_COLOR="1", NO_COLOR="1"))
    assert ESC not in done.stdout
