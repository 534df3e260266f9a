"""Logs mask by value and by path on every command path (``-vv``, ``--log-file``).

With ``-vv`` every request and response body is logged: a PUT carries the
desired values, a GET of the add-ons the live ones (after a rotation: the old
secret). One command sequence against ``emulator://demo`` in a scratch
directory: a saved plan applied with ``-vv --log-file``, then with the secret
rotated ``plan -vv`` and ``drift -vv``, ``import -vv`` of the add-on after
``state rm``, a pull request that drops the ``secret()`` call (the secret
unset), and the ``state`` commands. No marker may show in any stdout, stderr,
log file or other file written, the emulator's own store excepted (it plays the
cloud, which must hold what was sent).

Markers: a ``secret()`` value inside a list and inside a longer string, a
plain value under a key named ``db_password`` (sensitive by its name only), and
the cloud credentials. Each check also shows that the value was there to leak:
the emulator holds it and the log holds the bodies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cloud.bodymask import register_body_secrets
from reconciler.masking import mask, register_paths, reset_redactor
from tests.security.test_leaks_everywhere import EMULATOR_STORE, STAGING_ID, _cwd

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

__all__: list[str] = []

DNS = "mark-dns-4e1f0a"
HEADER = "mark-header-77c2b9"
DB_PASSWORD = "mark-dbpw-93d5e1"
ROTATED = "-rot8"
CREDENTIALS = {
    "HW_ACCESS_KEY": "mark-ak-51b0c3",
    "HW_SECRET_KEY": "mark-sk-51b0c3",
}
MARKERS = (DNS, HEADER, DB_PASSWORD, *CREDENTIALS.values())


def _desired(with_secret: bool) -> str:
    nameserver = "{{ secret('DNS_TOKEN') }}" if with_secret else "10.0.0.1"
    header = "Bearer {{ secret('HEADER_TOKEN') }}" if with_secret else "Bearer none"
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
        "        values:\n"
        "          custom:\n"
        f'            upstream_nameservers: ["10.0.0.2", "{nameserver}"]\n'
        f'            upstream_header: "{header}"\n'
        f"            db_password: {DB_PASSWORD}\n"
        "        allow_unknown_values: [custom.upstream_header, custom.db_password]\n"
    )


@dataclass
class Run:
    outputs: dict[str, str]
    files: dict[Path, bytes]
    emulator_store: bytes


def _run_everything(root: Path) -> Run:
    outputs: dict[str, str] = {}

    def run(label: str, args: list[str], env: dict[str, str | None],
            ok: tuple[int, ...] = (0,)) -> None:
        base: dict[str, str | None] = {**CREDENTIALS, "NO_COLOR": "1",
                                       "RECONCILER_ALLOW_ENV": "DNS_TOKEN HEADER_TOKEN"}
        result = CliRunner(env={**base, **env}).invoke(cli, args, catch_exceptions=False)
        outputs[f"{label} stdout"] = result.stdout
        outputs[f"{label} stderr"] = result.stderr
        assert result.exit_code in ok, f"{label}: exit {result.exit_code}\n{result.stderr}"

    first = {"DNS_TOKEN": DNS, "HEADER_TOKEN": HEADER}
    rotated = {"DNS_TOKEN": DNS + ROTATED, "HEADER_TOKEN": HEADER + ROTATED}
    Path("logs").mkdir()
    Path("desired.yaml").write_text(_desired(with_secret=True), encoding="utf-8")
    run("plan --out", ["plan", "desired.yaml", "--out", "p.json"], first)
    run("apply PLANFILE -vv", ["apply", "p.json", "-vv", "--log-file", "logs/apply.jsonl"], first)
    run("plan -vv (rotated)", ["plan", "desired.yaml", "-vv", "--log-file", "logs/plan.jsonl"],
        rotated)
    run("drift -vv (rotated)", ["drift", "desired.yaml", "-vv", "--log-file",
                                "logs/drift.jsonl"], rotated, ok=(0, 2))
    run("state rm", ["state", "rm", "demo-staging", "coredns"], {})
    run("import -vv", ["import", "demo-staging", "coredns", "desired.yaml", "-vv",
                       "--log-file", "logs/import.jsonl"], rotated)
    Path("pr.yaml").write_text(_desired(with_secret=False), encoding="utf-8")
    unset: dict[str, str | None] = {"DNS_TOKEN": None, "HEADER_TOKEN": None}
    for fmt in ("text", "markdown", "json"):
        run(f"plan -vv PR {fmt}", ["plan", "pr.yaml", "-vv", "--format", fmt, "--log-file",
                                   f"logs/pr-{fmt}.jsonl"], unset)
    run("state show", ["state", "show", "demo-staging"], {})
    run("state list", ["state", "list"], {})

    files = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    store = files.pop(EMULATOR_STORE)
    return Run(outputs, files, store)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("secret-logs")
    with _cwd(root):
        return _run_everything(root)


INPUTS = {Path("desired.yaml"), Path("pr.yaml")}
"""The repository's own files: they hold ``secret('NAME')`` calls, never a secret's value,
but ``db_password``'s literal is theirs."""
IN_THE_FILES = {Path("p.json")}
"""A sensitive literal written in the desired files travels in a saved plan as
written (it is in the repository already; docs/plan-json.md): only
``db_password``'s, never a ``secret()`` value or a credential."""


def _leaks(run: Run, marker: str) -> list[str]:
    found = [label for label, text in run.outputs.items() if marker in text]
    skipped = INPUTS | (IN_THE_FILES if marker == DB_PASSWORD else set())
    found += [str(path) for path, data in run.files.items()
              if path not in skipped and marker.encode() in data]
    return found


@pytest.mark.parametrize("marker", MARKERS)
def test_no_marker_in_any_output_or_file(run: Run, marker: str) -> None:
    leaks = _leaks(run, marker)
    assert not leaks, f"{marker} found in: {', '.join(leaks)}"


def test_the_values_were_there_to_leak(run: Run) -> None:
    """The secrets reached the cloud (the saved plan's and the rotated ones),
    and the logs do hold the bodies that carried them, masked."""
    assert DB_PASSWORD.encode() in run.emulator_store
    for name in ("apply", "plan", "drift", "import", "pr-text"):
        lines = [json.loads(line) for line in
                 run.files[Path(f"logs/{name}.jsonl")].decode().splitlines()]
        bodies = [entry["message"] for entry in lines if "body" in entry["message"]]
        assert any("upstream_nameservers" in body for body in bodies), name
        assert any("(sensitive)" in body for body in bodies), name
    applied = run.files[Path("logs/apply.jsonl")].decode()
    assert "request body" in applied and "PUT" in applied


def test_saved_plan_apply_sent_the_first_secret(run: Run) -> None:
    # The saved plan applied the secrets as planned; the later import kept them.
    assert "apply PLANFILE -vv stdout" in run.outputs
    assert DNS.encode() in run.emulator_store
    assert f"Bearer {HEADER}".encode() in run.emulator_store


def test_a_body_teaches_the_redactor_its_values_at_sensitive_places() -> None:
    """By key name anywhere in the body; by path only in the add-on registered."""
    reset_redactor()
    register_paths("coredns", ["custom.servers[1]", "custom.zone"])
    body = {"items": [
        {"spec": {"addonTemplateName": "coredns", "values": {"custom": {
            "servers": ["10.0.0.2", "by-path-1-aa"], "zone": {"a": "by-path-under-bb"},
            "note": "plain-note-cc", "auth": {"adminPassword": "by-name-dd"}}}}},
        {"spec": {"addonTemplateName": "everest", "values": {"custom": {
            "servers": ["10.0.0.2", "other-addon-ee"]}}}},
        {"addonTemplateName": "coredns", "values": {"custom": {"zone": "precheck-ff"}}},
        {"token": ["by-name-in-list-gg"]},
    ]}
    register_body_secrets(body)
    text = json.dumps(body)
    masked = mask(text)
    for secret in ("by-path-1-aa", "by-path-under-bb", "by-name-dd", "precheck-ff",
                   "by-name-in-list-gg"):
        assert secret in text and secret not in masked
    for plain in ("10.0.0.2", "plain-note-cc", "other-addon-ee"):
        assert plain in masked
    reset_redactor()
