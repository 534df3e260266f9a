"""Hostile desired-state files through the real CLI (issue 9, items 1, 2, 3, 5, 6).

Each file of ``hostile/`` must make ``validate`` and ``plan`` (against
``emulator://demo`` in a tmp cwd) exit 1 with one clear ``FILE:LINE:COL:
error:`` line, no traceback, and leave no trace of its marker: a tmp file the
payload tries to create, or a credential value set in the environment.
Resource bombs also run in a subprocess that must finish in 2 s (beyond the
interpreter's start) and stay under 200 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.model.sensitive import CREDENTIAL_VARIABLES

HOSTILE = Path(__file__).with_name("hostile")
EXPECTED: dict[str, str] = yaml.safe_load((HOSTILE / "expected.yaml").read_text("utf-8"))
CREDENTIAL_VALUE = "hostile-credential-literal-4711"

DEMO = """apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "0504201b6c80256b2f08c0099f0c8fe4"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      coredns:
"""


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str,
        env: dict[str, str] | None = None) -> Result:
    monkeypatch.chdir(cwd)
    environ = {name: CREDENTIAL_VALUE for name in CREDENTIAL_VARIABLES}
    environ.update({"NO_COLOR": "1", **(env or {})})
    return CliRunner().invoke(cli, list(args), env=environ)


def assert_refused(result: Result, message: str, *markers: str) -> None:
    """Exit 1, no traceback, exactly one error line and it holds ``message``."""
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr
    assert message in errors[0], result.stderr
    for marker in (CREDENTIAL_VALUE, *markers):
        assert marker not in output


def test_the_corpus_covers_every_file() -> None:
    files = {p.stem for p in HOSTILE.glob("*.yaml") if p.name != "expected.yaml"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_file_is_refused(case: str, command: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    text = (HOSTILE / f"{case}.yaml").read_text("utf-8").replace("@MARKER@", str(marker))
    (tmp_path / "desired.yaml").write_text(text, encoding="utf-8")

    result = run(tmp_path, monkeypatch, command, "desired.yaml",
                 env={"S_KEY": "secret-key-literal-99", "RECONCILER_ALLOW_ENV": "S_*"})

    assert_refused(result, f"desired.yaml:{EXPECTED[case]}" if EXPECTED[case][0].isdigit()
                   else EXPECTED[case], "secret-key-literal-99", str(marker))
    assert not marker.exists()
    assert not (tmp_path / ".reconciler" / "state").exists()


@pytest.mark.parametrize("name", CREDENTIAL_VARIABLES)
def test_env_refuses_credentials_whatever_the_allow_list(name: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "desired.yaml").write_text(
        DEMO + f"        version: \"{{{{ env('{name}') }}}}\"\n", encoding="utf-8")

    for command in ("validate", "plan"):
        result = run(tmp_path, monkeypatch, command, "desired.yaml", "--allow-env", "*",
                     env={name: CREDENTIAL_VALUE})
        assert_refused(result, f"desired.yaml:11:27: error: env('{name}') is refused")
        assert "own credential" in result.stderr


@pytest.mark.parametrize("name", ["DB_PASSWORD", "my_passwd", "GITHUB_TOKEN", "app_secret_value",
                                  "OBS_SK", "SIGNING_KEY"])
def test_env_refuses_secret_names_even_when_allowed(name: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "desired.yaml").write_text(
        DEMO + f"        version: \"{{{{ env('{name}') }}}}\"\n", encoding="utf-8")

    for command in ("validate", "plan"):
        result = run(tmp_path, monkeypatch, command, "desired.yaml", "--allow-env", name,
                     env={name: CREDENTIAL_VALUE})
        assert_refused(result, f"desired.yaml:11:27: error: env('{name}') is refused")
        assert f"use secret('{name}') instead" in result.stderr


def test_env_still_reads_ordinary_variables(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "desired.yaml").write_text(
        DEMO + "        version: \"{{ env('COREDNS_VERSION') }}\"\n", encoding="utf-8")
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml",
                 "--allow-env", "COREDNS_*", env={"COREDNS_VERSION": "1.30.33"})
    assert result.exit_code == 0, result.output


def measured(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run the CLI in a fresh child of a fresh interpreter, so RUSAGE_CHILDREN
    counts that one run only. Returns the result, seconds and peak RSS in KiB."""
    probe = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.monotonic()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)\n"
        "print(json.dumps([done.returncode, done.stdout, done.stderr, time.monotonic() - start,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "reconciler",
                          *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NO_COLOR": "1"})
    code, stdout, stderr, seconds, rss = json.loads(out.stdout)
    return subprocess.CompletedProcess(args, code, stdout, stderr), seconds, rss


@pytest.mark.parametrize("case", ["alias-bomb", "deep-nesting", "recursive-alias",
                                  "range-bomb", "repeat-bomb", "output-bomb"])
def test_bombs_are_refused_quickly_in_little_memory(case: str, tmp_path: Path) -> None:
    (tmp_path / "desired.yaml").write_bytes((HOSTILE / f"{case}.yaml").read_bytes())
    _, baseline, _ = measured(["--version"], tmp_path)

    done, seconds, rss_kib = measured(["validate", "desired.yaml"], tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and EXPECTED[case] in done.stderr
    assert seconds - baseline < 2.0, f"{seconds:.2f}s (start-up {baseline:.2f}s)"
    assert rss_kib < 200 * 1024, f"peak {rss_kib} KiB"


def test_huge_file_is_refused_before_it_is_read(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with (tmp_path / "desired.yaml").open("w", encoding="utf-8") as out:
        out.write(DEMO)
        out.write("# padding padding padding padding padding padding padding\n" * 100_000)
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml")
    assert_refused(result, "desired.yaml: error: is 5,")
    assert "bytes; files are limited to 5 MiB" in result.stderr


@pytest.mark.parametrize("option", [[], ["--var-file"]])
def test_fifo_is_named_and_never_read(option: list[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # nobody writes: a read would block for ever
    (tmp_path / "desired.yaml").write_text(DEMO + "        version: 1.30.33\n")
    args = ["desired.yaml", "--var-file", "pipe.yaml"] if option else ["pipe.yaml"]
    expected = "a YAML var file" if option else "a desired-state YAML file"
    started = time.monotonic()
    result = run(tmp_path, monkeypatch, "validate", *args)
    assert_refused(result, f"pipe.yaml: error: is a named pipe (FIFO), expected {expected}")
    assert time.monotonic() - started < 5


def test_device_and_directory_are_named(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "desired.yaml").write_text(DEMO + "        version: 1.30.33\n")
    (tmp_path / "vars").mkdir()
    result = run(tmp_path, monkeypatch, "validate", "/dev/zero")
    assert_refused(result, "/dev/zero: error: is a character device, expected a desired-state")
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml", "--var-file", "vars")
    assert_refused(result, "vars: error: is a directory, expected a YAML var file")
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml", "--var-file", "/dev/zero")
    assert_refused(result, "/dev/zero: error: is a character device, expected a YAML var file")


def test_a_directory_argument_still_means_its_yaml_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "a.yaml").write_text(DEMO + "        version: 1.30.33\n")
    os.mkfifo(tmp_path / "envs" / "b.yaml")  # not a regular file: skipped, never opened
    result = run(tmp_path, monkeypatch, "validate", "envs")
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "desired.yaml"
    path.write_text(DEMO)
    path.chmod(0)
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml")
    assert_refused(result, "desired.yaml: error: cannot read file: Permission denied")


SECRETS = {"S_ITEM": "leak-item-1", "S_INLINE": "leak-inline-2", "S_SCALAR": "leak-scalar-3",
           "S_NESTED": "leak-nested-4", "S_MATRIX": "leak-matrix-5"}
EVERYWHERE = DEMO + """        allow_unknown_values: [custom.plainly, custom.nested, custom.matrix]
        values:
          custom:
            upstream_nameservers: ["10.0.0.2", "{{ secret('S_ITEM') }}"]
            stub_domains: {"x.local": ["Bearer {{ secret('S_INLINE') }}"]}
            plainly: "{{ secret('S_SCALAR') }}"
            nested: {deeper: {value: "{{ secret('S_NESTED') }}"}}
            matrix: [["a", "{{ secret('S_MATRIX') }}"]]
"""


@pytest.mark.slow
def test_secret_in_every_position_never_leaves_memory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalar, list item, inside a string, nested map value, list in a list: the value
    appears in no output, plan file, state file or journal (only the emulated cloud,
    which the value is for, holds it)."""
    (tmp_path / "desired.yaml").write_text(EVERYWHERE, encoding="utf-8")
    outputs: list[str] = []

    def cli_ok(*args: str, secrets: dict[str, str] = SECRETS, code: int = 0) -> Result:
        result = run(tmp_path, monkeypatch, *args, env={**secrets, "RECONCILER_ALLOW_ENV": "S_*"})
        assert result.exit_code == code and "Traceback" not in result.output, result.output
        outputs.append(result.output)
        return result

    cli_ok("validate", "desired.yaml")
    for fmt in ("text", "markdown", "json"):
        cli_ok("plan", "desired.yaml", "--format", fmt)
    cli_ok("plan", "desired.yaml", "--out", "saved.plan")
    for fmt in ("text", "markdown", "json"):
        cli_ok("show", "saved.plan", "--format", fmt)
    plan = json.loads(cli_ok("plan", "desired.yaml", "--format", "json").stdout)
    change = plan["clusters"][0]["changes"][0]
    # Sensitive paths are leaves, list items included (a saved plan rebuilds
    # one item, not the whole list).
    for expected in ("custom.upstream_nameservers", "custom.matrix", "custom.plainly",
                     "custom.nested.deeper.value", "custom.stub_domains.x.local"):
        assert any(p == expected or p.startswith(expected + "[")
                   for p in change["sensitive_paths"]), (expected, change["sensitive_paths"])
    cli_ok("apply", "desired.yaml", "--auto-approve")
    changed = {name: value + "-rotated" for name, value in SECRETS.items()}
    for fmt in ("text", "markdown", "json", "prometheus"):
        for secrets in (SECRETS, changed):
            cli_ok("drift", "desired.yaml", "--format", fmt, secrets=secrets,
                   code=0 if secrets is SECRETS else 2)  # a rotated secret is drift

    written = [p for p in tmp_path.rglob("*") if p.is_file()
               and "emulator" not in p.relative_to(tmp_path).parts]
    assert any(p.name.endswith(".journal.jsonl") for p in written)
    texts = outputs + [p.read_text("utf-8", errors="replace") for p in written]
    for value in (*SECRETS.values(), *changed.values()):
        for text in texts:
            assert value not in text



def test_a_loop_that_prints_nothing_is_stopped_by_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """range() is bounded per call, but nested loops multiply: 10⁸ silent iterations
    would hold a CI runner for minutes. The render time limit stops them."""
    from reconciler.config import render

    monkeypatch.setattr(render, "MAX_RENDER_SECONDS", 0.3)
    path = tmp_path / "spin.yaml"
    path.write_text(
        "apiVersion: reconciler/v1\n"
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}\n"
        "clusters: {}\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    result = run(tmp_path, monkeypatch, "validate", str(path))
    assert time.monotonic() - started < 5
    assert_refused(result, "spin.yaml:2:")
    assert "took more than 0.3 s to render" in result.stderr
