"""A new user's mistakes give one line, exit 1, no traceback, nothing sent.

Each case runs the real CLI in a subprocess (so an uncaught exception would
print a real traceback) against the in-process demo emulator, or against an
https endpoint that is never contacted because the check comes first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "examples" / "demo.yaml")
HUAWEI = "https://cce.ap-southeast-1.myhuaweicloud.com"
AK = "AKTESTVALUE0123456789"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("HW_", "CLOUD_SDK_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env={**clean, **env, "NO_COLOR": "1"}, cwd=tmp_path, timeout=60, check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]


COMMANDS = [["plan", DEMO], ["apply", DEMO, "--auto-approve"], ["drift", DEMO]]
IDS = ["plan", "apply", "drift"]


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_no_credentials_names_the_variables(tmp_path: Path, command: list[str]) -> None:
    result = run(tmp_path, *command, "--endpoint", HUAWEI)
    one_line_error(result, "HW_ACCESS_KEY", "HW_SECRET_KEY", "HW_AUTH_TOKEN")
    assert not (tmp_path / ".reconciler").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_an_access_key_without_its_secret_key(tmp_path: Path, command: list[str]) -> None:
    result = run(tmp_path, *command, "--endpoint", HUAWEI, HW_ACCESS_KEY=AK)
    one_line_error(result, "HW_ACCESS_KEY is set", "HW_SECRET_KEY")
    assert AK not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_an_unknown_emulator_scenario_lists_the_known_ones(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(tmp_path, *command, "--endpoint", "emulator://nosuch")
    one_line_error(result, "'nosuch'", "emulator://demo")


# (Other malformed URLs are caught by the desired-state loader, with its own message.)
@pytest.mark.parametrize("url", ["https://[::1", "https://[::1]:99999"])
@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_malformed_endpoint_names_it_and_the_form(
    tmp_path: Path, command: list[str], url: str
) -> None:
    result = run(tmp_path, *command, "--endpoint", url, HW_AUTH_TOKEN="t0ken-value")
    one_line_error(result, repr(url), "https://HOST")
    assert "t0ken-value" not in result.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [(["plan", DEMO, "--out"], "--out"), (["drift", DEMO, "--output"], "--output")],
    ids=["plan", "drift"],
)
def test_an_unwritable_output_is_known_before_anything_is_sent(
    tmp_path: Path, command: list[str], option: str
) -> None:
    result = run(tmp_path, *command, "/proc/nope/plan.json")
    one_line_error(result, f"{option} /proc/nope/plan.json", "No such file or directory")
    # The emulator keeps its state beside the state dir: it was never started.
    assert not (tmp_path / ".reconciler").exists()


def test_an_output_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    one_line_error(run(tmp_path, "plan", DEMO, "--out", "out"), "--out out", "directory")


def test_plan_out_still_writes_atomically(tmp_path: Path) -> None:
    result = run(tmp_path, "plan", DEMO, "--out", "plans/p.json")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["p.json"]


@pytest.mark.parametrize("kind", ["directory", "fifo", "empty", "missing"])
def test_show_of_something_that_is_no_plan(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "thing.json"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif kind == "empty":
        target.write_text("", encoding="utf-8")
    result = run(tmp_path, "show", "thing.json")
    one_line_error(result, "thing.json")


@pytest.mark.parametrize("endpoint", ["https://[::1", "emulator://nosuch"])
def test_import_with_a_bad_endpoint(tmp_path: Path, endpoint: str) -> None:
    result = run(tmp_path, "import", "demo-prod", "everest", DEMO, "--endpoint", endpoint)
    one_line_error(result, repr(endpoint))


def test_import_without_credentials(tmp_path: Path) -> None:
    result = run(tmp_path, "import", "demo-prod", "everest", DEMO, "--endpoint", HUAWEI)
    one_line_error(result, "HW_ACCESS_KEY")


# --- Hostile or odd input: one clear error naming what to change, never a traceback ---
# In process (CliRunner), to keep the suite fast: an uncaught exception shows up
# as ``result.exception`` other than SystemExit, as a traceback would.

BIG = "9" * 5000
FLEET = ROOT / "examples" / "fleet.yaml"
CLUSTER_HEAD = """\
apiVersion: reconciler/v1
defaults: {endpoint: emulator://demo, region: ap-southeast-1, project_id: p}
clusters:
"""


def _desired(cluster: str = "demo-prod", values: str = "{}") -> str:
    return (CLUSTER_HEAD + f"  {cluster}:\n    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037\n"
            f"    addons:\n      everest:\n        version: 2.4.28\n        values: {values}\n")


def _fleet_with(old: str, new: str) -> str:
    text = FLEET.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    crashed: BaseException | None


@pytest.fixture
def cli_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("HW_", "CLOUD_SDK_", "RECONCILER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str) -> Ran:
        result = CliRunner().invoke(cli, list(args))
        crashed = None if isinstance(result.exception, SystemExit | None) else result.exception
        return Ran(result.exit_code, result.stdout, result.stderr, crashed)

    return invoke


def _saved_plan(tmp_path: Path, cli_in: Callable[..., Ran]) -> str:
    made = cli_in("plan", DEMO, "--out", "saved.json")
    assert made.code == 0, made.stderr
    return (tmp_path / "saved.json").read_text(encoding="utf-8")


def _big_number_plan(tmp_path: Path, cli_in: Callable[..., Ran]) -> None:
    text = _saved_plan(tmp_path, cli_in)
    assert '"replicas": 2' in text
    (tmp_path / "p.json").write_text(text.replace('"replicas": 2', f'"replicas": {BIG}', 1))


# (id, files to write {name: text}, arguments, texts the error must hold)
CASES: list[tuple[str, dict[str, str], list[str], list[str]]] = [
    ("5000-digit integer in a file", {"d.yaml": _desired(values=f"{{custom: {{x: {BIG}}}}}")},
     ["validate", "d.yaml"], ["d.yaml:9:", "integer of 5,000 characters", "quote it"]),
    ("5000-digit integer in a var file", {"v.yaml": f"n: {BIG}\n"},
     ["validate", DEMO, "--var-file", "v.yaml"], ["v.yaml:1:4", "integer of 5,000 characters"]),
    ("YAML tag !foo", {"d.yaml": CLUSTER_HEAD + "  demo-prod: !foo bar\n"},
     ["validate", "d.yaml"], ["d.yaml:4:14", "YAML tag `!foo` is not supported"]),
    ("YAML tag !!python/name", {"d.yaml": CLUSTER_HEAD + "  x: !!python/name:os.system\n"},
     ["plan", "d.yaml"], ["d.yaml:4:6", "YAML tag `!!python/name:os.system`"]),
    ("YAML tag in a var file", {"v.yaml": "x: !!python/name:os.system\n"},
     ["validate", DEMO, "--var-file", "v.yaml"], ["v.yaml:1:4", "is not supported"]),
    ("!!set has no JSON form", {"v.yaml": "x: !!set {a, b}\n"},
     ["validate", DEMO, "--var-file", "v.yaml"], ["v.yaml:1:4", "`!!set`"]),
    ("soak .inf", {"f.yaml": _fleet_with("soak: 20s", "soak: .inf")},
     ["validate", "f.yaml"], ["f.yaml:", "`.inf` is not a finite number"]),
    ("soak .nan", {"f.yaml": _fleet_with("soak: 20s", "soak: .NaN")},
     ["validate", "f.yaml"], ["`.NaN` is not a finite number"]),
    ("soak 1.0e+400 overflows to inf", {"f.yaml": _fleet_with("soak: 20s", "soak: 1.0e+400")},
     ["validate", "f.yaml"], ["`1.0e+400` is not a finite number"]),
    ("soak of a year", {"f.yaml": _fleet_with("soak: 20s", "soak: 31536000")},
     ["validate", "f.yaml"], ["soak", "maximum of 604800"]),
    ("timeout of 10^20 seconds", {"d.yaml": _desired().replace(
        "version: 2.4.28", "version: 2.4.28\n        timeout: 100000000000000000000")},
     ["validate", "d.yaml"], ["timeout", "maximum of 604800"]),
    ("a duration string past every bound", {"d.yaml": _desired().replace(
        "version: 2.4.28", "version: 2.4.28\n        timeout: 99999999999999999999h")},
     ["validate", "d.yaml"], ["timeout", "invalid timeout"]),
    ("300-character cluster name", {"d.yaml": _desired(cluster="c" * 300)},
     ["validate", "d.yaml"], ["cluster name of 300 characters is too long", "at most 200"]),
    ("state show of a 300-character name", {}, ["state", "show", "c" * 300],
     ["cluster name of 300 characters is too long"]),
    ("state mv to a 300-character name", {}, ["state", "mv", "a", "c" * 300],
     ["cluster name of 300 characters is too long"]),
    ("force-unlock of a 300-character name", {}, ["force-unlock", "c" * 300, "--yes"],
     ["cluster name of 300 characters is too long"]),
    ("apply --state-dir /proc/nope", {},
     ["apply", DEMO, "--auto-approve", "--state-dir", "/proc/nope"],
     ["state directory /proc/nope", "No such file or directory", "--state-dir"]),
    ("state migrate --to /proc/nope", {}, ["state", "migrate", "--to", "/proc/nope"],
     ["state directory /proc/nope", "give --to a directory"]),
    ("--lock-timeout nan", {}, ["apply", DEMO, "--lock-timeout", "nan"],
     ["--lock-timeout", "'nan' is not a finite number"]),
    ("--lock-timeout inf", {}, ["state", "rm", "x", "--lock-timeout", "inf"],
     ["--lock-timeout", "'inf' is not a finite number"]),
    ("--lock-timeout -1", {}, ["apply", DEMO, "--lock-timeout", "-1"],
     ["--lock-timeout", "not in the range"]),
    ("--timeout nan", {}, ["apply", DEMO, "--timeout", "nan"], ["--timeout", "finite"]),
    ("--rate-limit nan", {}, ["plan", DEMO, "--rate-limit", "nan"], ["--rate-limit", "finite"]),
    ("emulator serve --port 99999", {}, ["emulator", "serve", "--port", "99999"],
     ["--port", "0<=x<=65535"]),
    ("emulator serve --time-scale nan", {}, ["emulator", "serve", "--time-scale", "nan"],
     ["--time-scale", "finite"]),
    ("emulator serve --scenario of a binary file", {"bin.yaml": "\udcff\udcfe\x00garbage"},
     ["emulator", "serve", "--scenario", "bin.yaml", "--port", "0"],
     ["bin.yaml: not a scenario YAML file", "not UTF-8"]),
    ("--state ''", {}, ["plan", DEMO, "--state", ""], ["--state", "is empty"]),
    ("--state ' '", {}, ["state", "list", "--state", " "], ["--state", "is empty"]),
]


@pytest.mark.parametrize(("files", "args", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_input_is_one_clear_error(
    tmp_path: Path, cli_in: Callable[..., Ran], files: dict[str, str], args: list[str],
    expected: list[str],
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli_in(*args)
    assert result.crashed is None, result.crashed
    assert result.code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) <= 5, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("command", [["show"], ["apply", "--auto-approve"]], ids=["show", "apply"])
def test_a_plan_with_a_5000_digit_number(
    tmp_path: Path, cli_in: Callable[..., Ran], command: list[str]
) -> None:
    _big_number_plan(tmp_path, cli_in)
    result = cli_in(*command, "p.json")
    assert result.crashed is None and result.code == 1
    assert result.stderr.strip().splitlines() == [
        "error: p.json: not a valid plan file: a number of more than 4,300 digits, which no"
        " plan has; re-run `reconciler plan --out`"]


@pytest.mark.slow
def test_a_plan_with_a_byte_order_mark_is_read_as_a_plan(
    tmp_path: Path, cli_in: Callable[..., Ran]
) -> None:
    text = _saved_plan(tmp_path, cli_in)
    (tmp_path / "bom.json").write_text(text, encoding="utf-8-sig")
    assert (tmp_path / "bom.json").read_bytes().startswith(b"\xef\xbb\xbf")
    shown = cli_in("show", "bom.json")
    assert shown.code == 0, shown.stderr
    assert "Plan:" in shown.stdout and "unknown key" not in shown.stderr
    applied = cli_in("apply", "bom.json")
    assert "Apply finished" in applied.stdout, applied.stderr
    assert "unknown key" not in applied.stderr
