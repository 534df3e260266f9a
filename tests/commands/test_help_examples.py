"""Every example in every ``--help`` is real: it runs, as written, on the demo.

The examples are read from the real click tree (the lines after "Example:" /
"Examples:", a trailing backslash joining lines) and run by a shell in a
temporary directory holding a copy of ``examples/``, against the in-process
demo emulator (``emulator://demo``, the endpoint of the example files). An
example must not fail for a reason other than the one stated for it below, and
must write only inside that directory: the repository is left untouched.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import cli

# Every example is a real subprocess (~140 s in all): CI runs it with -m slow.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent

SKIPPED = {
    "emulator serve": "it starts a server that runs until stopped "
                      "(tests/emulator covers serve and its fault flags)",
}
"""Commands whose examples are not run, and why."""

SETUP = {
    "show": ["reconciler plan examples/demo.yaml --out demo.plan.json"],
    "state": ["reconciler apply examples/demo.yaml --auto-approve"],
    "state list": ["reconciler apply examples/demo.yaml --auto-approve"],
    "state show": ["reconciler apply examples/demo.yaml --auto-approve"],
    "state rm": ["reconciler apply examples/demo.yaml --auto-approve"],
    "state mv": ["reconciler apply examples/demo.yaml --auto-approve"],
    "force-unlock": ["reconciler apply examples/demo.yaml --auto-approve"],
    "state unmark-sensitive": ["AUTOSCALER_TOKEN=example-only reconciler apply"
                               " examples/multi-env/fleet.yaml --allow-env AUTOSCALER_TOKEN"
                               " --var-file examples/multi-env/staging.vars.yaml --auto-approve"],
    "history": ["reconciler apply examples/demo.yaml --auto-approve"],
    # import without FILE… needs the cluster's state file to exist already.
    "import": ["reconciler import demo-prod metrics-server examples/demo.yaml"],
    # without FILE, values reads the templates the last plan kept
    "values": ["reconciler plan examples/demo.yaml"],
}
"""What an example assumes happened before (a saved plan, an applied state).
A setup step may fail for a stated reason too (the demo apply exits 1)."""

BLOCKED = "demo-prod's coredns upgrade is blocked by its Fatal precheck on purpose (1)"
EXPECTED_EXIT = {
    "reconciler apply examples/demo.yaml": {1: BLOCKED},
    "reconciler apply": {1: BLOCKED},
    "--detailed-exitcode": {2: "changes to apply"},
    "--precheck": {1: "plan --precheck exits 1 when a change is blocked, and " + BLOCKED},
    "reconciler drift": {2: "drift found"},
}
"""Exit codes other than 0 an example may end with, and why: keyed by a prefix
or a part of the example line."""


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def examples_of(command: click.Command) -> list[str]:
    """The example command lines of a command's help, continuations joined."""
    lines = (command.help or "").splitlines()
    out: list[str] = []
    in_examples = False
    pending = ""
    for line in lines:
        stripped = line.strip()
        if re.fullmatch(r"Examples?:", stripped):
            in_examples = True
            continue
        if not in_examples:
            continue
        if not stripped:
            in_examples = False
            continue
        pending += stripped
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip() + " "
            continue
        out.append(pending)
        pending = ""
    return out


ALL = {name: examples_of(command) for name, command in _commands(cli).items()}
CASES = [(name, example) for name, examples in ALL.items() for example in examples]


def test_the_examples_are_found() -> None:
    """The extraction itself: a help rewording must not silently test nothing."""
    assert len(CASES) >= 20
    assert all(example.startswith("reconciler ") for _, example in CASES)
    assert "reconciler plan examples/demo.yaml" in ALL["plan"]
    joined = [e for e in ALL["emulator serve"] if "--time-scale 10" in e]
    assert joined and "\\" not in joined[0]


def _allowed(example: str) -> dict[int, str]:
    allowed: dict[int, str] = {0: "success"}
    for key, codes in EXPECTED_EXIT.items():
        if example.startswith(key) or (key.startswith("--") and key in example):
            allowed.update(codes)
    return allowed


def _run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }
    for name in ("RECONCILER_STATE_DIR", "RECONCILER_LOG", "FORCE_COLOR"):
        env.pop(name, None)
    # A shell runs the line as a user would (``schema > file`` included);
    # "yes" answers apply's approval prompt.
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, input="yes\n",
                          capture_output=True, text=True, timeout=120, check=False)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("name", "example"), CASES, ids=[e for _, e in CASES])
def test_help_example_runs_on_the_demo(name: str, example: str, tmp_path: Path) -> None:
    if name in SKIPPED:
        pytest.skip(f"`{example}` is not run: {SKIPPED[name]}")
    # Nothing outside the temporary directory: no absolute path, no way up.
    words = shlex.split(example)
    assert not [w for w in words if w.startswith("/") or ".." in w], example
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    repo_before = _files(ROOT / "examples") | _files(ROOT / "plans")
    for step in SETUP.get(name, []):
        done = _run(step, work)
        assert done.returncode in _allowed(step), f"setup `{step}`:\n{done.stderr}"
    result = _run(example, work)
    allowed = _allowed(example)
    assert result.returncode in allowed, (
        f"`{example}` exited {result.returncode}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    assert "Usage:" not in result.stderr
    # Written only inside the work directory: the repo's files are as they were.
    assert _files(ROOT / "examples") | _files(ROOT / "plans") == repo_before
    assert sorted(tmp_path.iterdir()) == [work]


def test_a_help_example_that_names_a_missing_file_fails_this_test(tmp_path: Path) -> None:
    """The check can fail: the old ``import --help`` example named examples/prod.yaml."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    result = _run("reconciler import prod-eu coredns examples/prod.yaml", work)
    assert result.returncode not in _allowed("reconciler import prod-eu coredns")
