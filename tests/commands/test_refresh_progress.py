"""The refresh progress bar of plan, drift and import: shown on a terminal
(a real pseudo-terminal here), never when stderr is not one."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import serve_emulator

from reconciler.cli import cli
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"
COMMANDS = {
    "plan": ["plan", "demo.yaml"],
    "drift": ["drift", "demo.yaml"],
    "import": ["import", "demo-staging", "coredns", "demo.yaml"],
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(EXAMPLES / "demo.yaml", tmp_path / "demo.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _on_a_terminal(args: list[str], cwd: Path,
                   extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the real CLI with stderr on a pseudo-terminal; (exit, stdout, terminal bytes)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    env.update(extra_env or {})
    with subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=slave) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(timeout=60)
    os.close(master)
    return code, stdout, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_not_a_terminal_adds_nothing(workdir: Path, command: str) -> None:
    result = CliRunner().invoke(cli, COMMANDS[command], env={"NO_COLOR": "1"})
    assert result.exit_code in (0, 2), result.output
    assert "Reading clusters" not in result.stderr
    assert "\x1b[" not in result.stderr


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_terminal_shows_the_refresh_bar_on_stderr(workdir: Path, command: str) -> None:
    code, stdout, terminal = _on_a_terminal(COMMANDS[command], workdir)
    assert code in (0, 2), terminal
    assert "Reading clusters" in terminal
    # the last frame counts every cluster the command read, all done
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)
    done = re.findall(r"Reading clusters \S+ (\d+)/(\d+)", plain)[-1]
    assert done[0] == done[1] == ("1" if command == "import" else "3"), terminal
    assert "Reading clusters" not in stdout  # stdout stays the plan / report alone


def test_the_bar_counts_retries_and_throttling_waits(workdir: Path) -> None:
    """A gateway that answers 429 above 2 requests a second: the bar says the
    run is being throttled instead of sitting silent."""
    emu = Emulator(load_scenario(demo_scenario_path()))
    emu.faults.rate_limit_per_s = 2
    emu.faults.retry_after_s = 1
    with serve_emulator(emu) as url:
        env = {"HW_ACCESS_KEY": emu.account.access_key,
               "HW_SECRET_KEY": emu.account.secret_key}
        code, _, terminal = _on_a_terminal(["plan", "demo.yaml", "--endpoint", url], workdir,
                                           env)
    assert code == 0, terminal
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)
    assert re.search(r"\d+ retr(y|ies), throttled, waited \d+\.\ds", plain), terminal
    assert emu.account.secret_key not in terminal


def test_no_color_on_a_terminal_redraws_a_plain_line(workdir: Path) -> None:
    code, _, terminal = _on_a_terminal(["plan", "demo.yaml"], workdir, {"NO_COLOR": "1"})
    assert code == 0, terminal
    assert "\x1b[" not in terminal
    assert "\rReading clusters 3/3" in terminal
