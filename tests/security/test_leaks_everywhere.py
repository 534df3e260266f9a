"""No secret reaches any output channel: an end-to-end leak harness.

A small corpus of hostile desired-state forms (a ``secret()`` as a scalar, as a
list item, inside a longer string, in a nested map, in a list of maps) goes
through the real CLI against ``emulator://demo`` in a scratch directory:
plan (text, markdown, json), ``plan --out``, ``show``, ``apply`` of the saved
plan, ``state show``, then, with every secret rotated, plan again and drift
(text, markdown, json, prometheus, each with ``--output``). Every command runs
with ``-v`` where it has it, and with the cloud credentials set to markers.
Then no marker may appear in any stdout/stderr or any file under the scratch
directory.

Speed: an apply waits for the emulated add-on to become healthy (about 3 s), so
all forms share one desired file (each with its own neutral key and its own
secret) and one command sequence, run once per module; each form is still its
own test case, told apart by its marker. Key names are deliberately neutral
(no ``password``/``token``…): only ``secret()`` tracking may protect them.

The ``env()`` value is the control: not a secret, so it must show up, which
proves the harness sees values where they are rendered.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

__all__: list[str] = []

STAGING_ID = "7c1f5a2e-4368-11f0-ba56-0255ac100037"


@dataclass(frozen=True)
class Form:
    """One hostile form: the YAML lines it adds under coredns ``values.custom``
    (indented 12 spaces in the file), and the secret it reads."""

    name: str
    secret_var: str
    yaml: str

    @property
    def marker(self) -> str:
        return f"leakmark-{self.name}-3f9c1a"


FORMS = (
    Form("scalar", "LEAK_SCALAR", "resolver_label: \"{{ secret('LEAK_SCALAR') }}\""),
    Form("list-item", "LEAK_LIST_ITEM",
         "upstream_nameservers: [\"10.0.0.2\", \"{{ secret('LEAK_LIST_ITEM') }}\"]"),
    Form("in-string", "LEAK_IN_STRING",
         "upstream_header: \"Bearer {{ secret('LEAK_IN_STRING') }}\""),
    Form("nested-map", "LEAK_NESTED",
         "forwarding:\n"
         "              zone:\n"
         "                upstream: \"{{ secret('LEAK_NESTED') }}\""),
    Form("list-of-maps", "LEAK_LIST_OF_MAPS",
         "tolerations:\n"
         "              - {key: dedicated, operator: Equal, effect: NoSchedule,\n"
         "                 value: \"{{ secret('LEAK_LIST_OF_MAPS') }}\"}"),
)

CONTROL_VAR, CONTROL_VALUE = "SOME_SAFE_VAR", "safe-control-value-7d21"

CREDENTIALS = {
    "HW_ACCESS_KEY": "leakmark-hw-access-key-51b0",
    "HW_SECRET_KEY": "leakmark-hw-secret-key-51b0",
    "HW_AUTH_TOKEN": "leakmark-hw-auth-token-51b0",
    "HW_SECURITY_TOKEN": "leakmark-hw-security-token-51b0",
}

ROTATED = "-rotated"
"""Appended to every secret for the second half: the marker is a prefix of both
the applied value (now live) and the new desired one, so a check catches either."""

EMULATOR_STORE = Path(".reconciler/emulator/demo.json")
"""The emulator's own store, the one file excluded from the walk: it is the
emulated cloud, which must hold the values the tool sent (the secrets
included) as the real add-on does; it stands for the far side of the API, not
an output of the tool. Its secrecy is its file mode (tests/emulator)."""


def desired_yaml() -> str:
    custom = "\n".join(f"            {form.yaml}" for form in FORMS)
    return (
        "apiVersion: reconciler/v1\n"
        "defaults:\n"
        "  region: ap-southeast-1\n"
        '  project_id: "0504201b6c80256b2f08c0099f0c8fe4"\n'
        "  endpoint: emulator://demo\n"
        "clusters:\n"
        "  demo-staging:\n"
        f"    cluster_id: {STAGING_ID}\n"
        "    addons:\n"
        "      coredns:\n"
        "        version: 1.30.33\n"
        '        flavor: "2500"\n'
        # secrets at keys of every shape, which the template does not have
        "        allow_unknown_values: [custom.*]\n"
        "        values:\n"
        "          custom:\n"
        f"{custom}\n"
        f"            note: \"{{{{ env('{CONTROL_VAR}') }}}}\"\n"
    )


@dataclass
class Run:
    """Everything the command sequence left behind."""

    outputs: dict[str, str]
    """``"<command> stdout|stderr"`` → text."""
    files: dict[Path, bytes]
    """Every file under the scratch directory (relative), the emulator store excepted."""
    emulator_store: bytes


def _environment(rotated: bool) -> dict[str, str]:
    suffix = ROTATED if rotated else ""
    env = {form.secret_var: form.marker + suffix for form in FORMS}
    # The operator allows what the forms read (never the credentials: those stay refused).
    allowed = ",".join([*env, CONTROL_VAR])
    return {**env, **CREDENTIALS, CONTROL_VAR: CONTROL_VALUE, "NO_COLOR": "1",
            "RECONCILER_ALLOW_ENV": allowed}


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run_everything(root: Path) -> Run:
    outputs: dict[str, str] = {}

    def run(args: list[str], rotated: bool, ok: tuple[int, ...] = (0,)) -> None:
        result = CliRunner(env=_environment(rotated)).invoke(cli, args, catch_exceptions=False)
        label = " ".join(args) + (" (rotated)" if rotated else "")
        outputs[f"{label} stdout"] = result.stdout
        outputs[f"{label} stderr"] = result.stderr
        # A failed command would make "no marker anywhere" pass for nothing.
        assert result.exit_code in ok, f"{label}: exit {result.exit_code}\n{result.stderr}"

    Path("desired.yaml").write_text(desired_yaml(), encoding="utf-8")
    for fmt in ("text", "markdown", "json"):
        run(["plan", "-v", "desired.yaml", "--format", fmt], rotated=False)
    run(["plan", "-v", "desired.yaml", "--out", "p.json"], rotated=False)
    for fmt in ("text", "markdown", "json"):
        run(["show", "p.json", "--format", fmt], rotated=False)
    # The saved plan may be refused as stale (today for a secret inside a longer
    # string or in a list of maps); its output is scanned all the same, and
    # `apply --auto-approve` then applies (a no-op if the saved plan went through).
    run(["apply", "-v", "p.json"], rotated=False, ok=(0, 1))
    run(["apply", "-v", "--auto-approve", "desired.yaml"], rotated=False)
    run(["state", "show", "demo-staging"], rotated=False)
    run(["state", "list"], rotated=False)
    # Rotated secrets: live now holds the old values, desired the new ones, so
    # both sides of every secret leaf are rendered as a change.
    for fmt in ("text", "markdown", "json"):
        run(["plan", "-v", "desired.yaml", "--format", fmt], rotated=True)
    for fmt in ("text", "markdown", "json", "prometheus"):
        run(["drift", "-v", "desired.yaml", "--format", fmt, "--output", f"drift/report.{fmt}"],
            rotated=True, ok=(0, 2))

    files = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    store = files.pop(EMULATOR_STORE)
    return Run(outputs, files, store)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("leaks")
    with _cwd(root):
        return _run_everything(root)


def _leaks(run: Run, marker: str) -> list[str]:
    """Where ``marker`` shows up: output channels and files, by name."""
    found = [label for label, text in run.outputs.items() if marker in text]
    found += [str(path) for path, data in run.files.items() if marker.encode() in data]
    return found


@pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])
def test_secret_appears_nowhere(run: Run, form: Form) -> None:
    # The secret really went through: the emulated add-on holds it.
    assert form.marker.encode() in run.emulator_store
    leaks = _leaks(run, form.marker)
    assert not leaks, f"secret() {form.name} value found in: {', '.join(leaks)}"


@pytest.mark.parametrize("variable", sorted(CREDENTIALS))
def test_credentials_appear_nowhere(run: Run, variable: str) -> None:
    leaks = _leaks(run, CREDENTIALS[variable])
    assert not leaks, f"{variable} found in: {', '.join(leaks)}"


def test_control_env_value_is_shown(run: Run) -> None:
    """Not a secret: visible in the plan, the saved plan and the state, so the
    harness does look where values are rendered and stored."""
    where = set(_leaks(run, CONTROL_VALUE))
    assert "plan -v desired.yaml --format text stdout" in where
    assert "p.json" in where
    assert str(Path(".reconciler/state/demo-staging.json")) in where
    assert CONTROL_VALUE.encode() in run.emulator_store
