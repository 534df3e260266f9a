"""Outputs never clobber what isn't a regular file (issue 19, item 3).

CI runs as root, where a rename replaces a device node and a write through a
symlink reaches whatever it points at. Every output path (``plan --out``,
``drift --output``, ``--log-file``, the files of the state directory) must be
an error, exit 1, when a device, a FIFO, a symlink or a directory is there,
and leave that thing untouched; a regular file is replaced atomically.
The devices are private copies made with ``mknod`` (root only), so a
regression cannot damage the machine's own ``/dev/null``.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.masking.files import NotARegularFile, open_append, read_regular, write_atomic

DESIRED = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      coredns:
        version: 1.30.33
"""
VICTIM_TEXT = "the victim's own content\n"


def _device(path: Path) -> str:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root (CI runs as root)")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full
    return "a character device"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "a named pipe (FIFO)"


def _symlink(path: Path) -> str:
    victim = path.with_name("victim.txt")
    victim.write_text(VICTIM_TEXT)
    path.symlink_to(victim)
    return "a symbolic link"


def _symlink_to_stdout(path: Path) -> str:
    path.symlink_to("/proc/self/fd/1")
    return "a symbolic link"


def _directory(path: Path) -> str:
    path.mkdir()
    (path / "inside.txt").write_text(VICTIM_TEXT)
    return "a directory"


KINDS: dict[str, Callable[[Path], str]] = {
    "device": _device, "fifo": _fifo, "symlink": _symlink,
    "symlink-to-stdout": _symlink_to_stdout, "directory": _directory,
}


def _snapshot(path: Path) -> tuple[object, ...]:
    info = os.lstat(path)
    extra: object = None
    if stat.S_ISLNK(info.st_mode):
        extra = os.readlink(path)
    elif stat.S_ISDIR(info.st_mode):
        extra = sorted(p.name for p in path.iterdir())
    victim = path.with_name("victim.txt")
    return (info.st_ino, info.st_mode, info.st_rdev, extra,
            victim.read_text() if victim.exists() else None)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desired.yaml").write_text(DESIRED)
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})


def _assert_refused(result: Result, path: str, kind: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert path in result.stderr, result.stderr
    if kind != "a directory":  # a directory has its own hint: "give a file path"
        assert f"it is {kind}, not a regular file" in result.stderr, result.stderr
    assert "Saved the plan" not in result.stderr


COMMANDS = {
    "plan --out": ["plan", "desired.yaml", "--out", "@"],
    "drift --output": ["drift", "desired.yaml", "--output", "@"],
    "--log-file": ["validate", "desired.yaml", "--log-file", "@"],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_path_that_is_not_a_regular_file_is_refused(
        command: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    described = KINDS[kind](target)
    before = _snapshot(target)

    result = _run(tmp_path, monkeypatch, *[a if a != "@" else "out.txt"
                                           for a in COMMANDS[command]])

    _assert_refused(result, "out.txt", described)
    assert _snapshot(target) == before
    assert not list(tmp_path.glob(".out.txt.*"))  # no temp or probe file left behind


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_regular_file_is_replaced_atomically(command: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old content\n")
    inode = target.stat().st_ino
    result = _run(tmp_path, monkeypatch, *[a if a != "@" else "out.txt"
                                           for a in COMMANDS[command]])
    assert result.exit_code in (0, 2), result.output  # drift: 2 means drift found
    text = target.read_text()
    if command == "--log-file":  # a log is appended to, in place
        assert text.startswith("old content\n") and target.stat().st_ino == inode
    else:  # a new inode renamed over the old one: a reader sees old or new, never half
        assert "old content" not in text and target.stat().st_ino != inode
    assert not list(tmp_path.glob(".out.txt.*"))


STATE_FILES = ["demo-staging.json", "demo-staging.journal.jsonl", "demo-staging.lock"]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", STATE_FILES)
def test_a_state_directory_entry_that_is_not_a_regular_file_is_refused(
        name: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state_dir = tmp_path / ".reconciler" / "state"
    state_dir.mkdir(parents=True)
    target = state_dir / name
    described = KINDS[kind](target)
    before = _snapshot(target)
    outcome: list[Result] = []
    # A FIFO read would block for ever: run in a thread so a regression fails, not hangs.
    worker = threading.Thread(target=lambda: outcome.append(
        _run(tmp_path, monkeypatch, "apply", "desired.yaml", "--auto-approve")), daemon=True)
    worker.start()
    worker.join(60)
    assert outcome, "apply blocked on the state directory entry"

    result = outcome[0]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert name in result.output, result.output
    assert f"it is {described}, not a regular file" in result.output, result.output
    assert _snapshot(target) == before


def test_a_state_directory_that_is_a_device_is_refused(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _device(tmp_path / "statedev")
    before = _snapshot(tmp_path / "statedev")
    result = _run(tmp_path, monkeypatch, "apply", "desired.yaml", "--auto-approve",
                  "--state-dir", "statedev")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "statedev" in result.output
    assert _snapshot(tmp_path / "statedev") == before


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_helpers_refuse_before_touching(kind: str, tmp_path: Path) -> None:
    """Every writer goes through masking.files: checked here directly as well."""
    target = tmp_path / "f"
    KINDS[kind](target)
    before = _snapshot(target)
    with pytest.raises(NotARegularFile):
        write_atomic(target, "new")
    with pytest.raises(NotARegularFile):
        open_append(target)
    with pytest.raises(NotARegularFile):
        read_regular(target)
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".f.")] == []
