"""A saved plan is applied exactly as written by ``plan --out`` or not at all.

The real CLI (click's runner, in-process), the emulator on a real socket behind
a recorder that sees every request, and a second recorder on a non-loopback
address standing for "another host" that must never see a request or a token.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator
from reconciler.planfile.integrity import plan_digest
from tests.apply.apply_helpers import MAIN_ID, new_emulator

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TOKEN = "tamper-test-token-0123456789"
CHANGED = "the plan file was changed after it was written"
DESIRED = f"""apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "11112222333344445555666677778888"
  endpoint: https://cce.ap-southeast-1.myhuaweicloud.com
clusters:
  t-main:
    cluster_id: {MAIN_ID}
    addons:
      metrics-server:
        version: 1.3.68
      volcano:
        version: 1.15.8
"""


@dataclass
class Recorder:
    """ASGI app that logs each request (method, path, headers), then hands it on."""

    app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.calls.append((scope["method"], scope["path"], headers))
        if self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.calls if m != "GET"]


@contextmanager
def serve(app: Recorder, host: str) -> Iterator[int]:
    config = uvicorn.Config(app, host=host, port=0, log_level="critical", lifespan="off",
                            interface="asgi3")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _non_loopback_address() -> str | None:
    # The address this machine would use to reach the outside; nothing is sent.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@dataclass
class World:
    emulator: Emulator
    cce: Recorder
    url: str
    tmp: Path
    env: dict[str, str | None]

    def cli(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner(env={**self.env, **(env or {})}).invoke(
            cli, [*args, "--state-dir", str(self.tmp / "state")] if args[0] != "show" else
            list(args))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)
    emulator = new_emulator()
    recorder = Recorder(emulator.app)
    (tmp_path / "desired.yaml").write_text(DESIRED, encoding="utf-8")
    env: dict[str, str | None] = {
        "HW_ACCESS_KEY": emulator.account.access_key,
        "HW_SECRET_KEY": emulator.account.secret_key,
        "HW_AUTH_TOKEN": None, "NO_COLOR": "1",
    }
    with serve(recorder, "127.0.0.1") as port:
        yield World(emulator, recorder, f"http://127.0.0.1:{port}", tmp_path, env)


def _saved(world: World) -> tuple[Path, str]:
    out = world.tmp / "p.json"
    result = world.cli("plan", "desired.yaml", "--endpoint", world.url, "--out", str(out))
    assert result.exit_code == 0, result.output
    found = re.search(r"Saved the plan to .*p\.json \(digest (sha256:[0-9a-f]{64})\)",
                      result.stderr)
    assert found, result.stderr
    return out, found.group(1)


def _edit(path: Path, change: Callable[[dict[str, Any]], None], *, reseal: bool = False) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    if reseal:  # what someone who knows the format does: recompute the digest
        data["digest"] = plan_digest(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _downgrade(data: dict[str, Any]) -> None:
    change = next(c for c in data["clusters"][0]["changes"] if c["addon"] == "metrics-server")
    assert change["action"] == "upgrade"
    change["after_version"] = "1.3.50"


def _delete_coredns(data: dict[str, Any]) -> None:
    changes = data["clusters"][0]["changes"]
    extra = copy.deepcopy(changes[0])
    extra.update(addon="coredns", action="delete",
                 instance_id="1b000000-0000-4000-8000-000000000001",
                 before_version="1.29.4", after_version="", values={}, field_changes=[],
                 provenance={}, depends_on=[], reason="")
    changes.append(extra)


def _move_to(url: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["clusters"][0]["endpoint"] = url
    return change


def test_show_prints_the_digest_plan_out_printed(world: World) -> None:
    path, digest = _saved(world)
    shown = world.cli("show", str(path))
    assert shown.exit_code == 0, shown.output
    assert f"(digest {digest})" in shown.stderr
    assert json.loads(path.read_text())["digest"] == digest


@pytest.mark.parametrize("edit", [_downgrade, _delete_coredns, _move_to("http://127.0.0.1:1")],
                         ids=["downgrade", "delete-coredns", "other-endpoint"])
def test_an_edited_plan_is_refused_and_nothing_is_sent(
    world: World, edit: Callable[[dict[str, Any]], None]
) -> None:
    path, _ = _saved(world)
    before = len(world.cce.calls)
    instances = sorted((i.template, i.version) for i in world.emulator.store.instances.values())
    _edit(path, edit)

    for command in (["apply", str(path), "--auto-approve"], ["show", str(path)]):
        result = world.cli(*command)
        assert result.exit_code == 1, result.output
        assert CHANGED in result.stderr
        assert "Traceback" not in result.output
        assert result.stderr.count("\n") == 1
    assert len(world.cce.calls) == before  # not even a read
    assert sorted((i.template, i.version)
                  for i in world.emulator.store.instances.values()) == instances
    assert not (world.tmp / "state").exists()


def test_an_untouched_plan_applies_and_reindenting_it_changes_nothing(world: World) -> None:
    path, _ = _saved(world)
    _edit(path, lambda data: None)  # same content, other whitespace
    result = world.cli("apply", str(path), "--auto-approve", "--poll-interval", "0.05",
                       "--allow-endpoint", world.url)  # a port on this machine: the operator's
    assert result.exit_code == 0, result.output
    methods = {m for m, _ in world.cce.writes}
    assert {"POST", "PUT"} <= methods  # volcano installed, metrics-server upgraded


def test_a_resealed_plan_pointing_elsewhere_never_gets_the_token(world: World) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address to stand for another host")
    foreign = Recorder()
    with serve(foreign, address) as port:
        elsewhere = f"http://{address}:{port}"
        path, _ = _saved(world)
        _edit(path, _move_to(elsewhere), reseal=True)
        before = len(world.cce.calls)
        env = {"HW_ACCESS_KEY": None, "HW_SECRET_KEY": None, "HW_AUTH_TOKEN": TOKEN}
        result = world.cli("apply", str(path), "--auto-approve", env=env)
        assert result.exit_code == 1, result.output
        assert f"endpoint {elsewhere!r} is not allowed" in result.stderr
        assert f"--allow-endpoint {elsewhere}" in result.stderr
        assert f"--endpoint {elsewhere}" in result.stderr
        assert TOKEN not in result.output
        # A --endpoint that is not the plan's does not redirect it either.
        other = world.cli("apply", str(path), "--auto-approve", "--endpoint", world.url, env=env)
        assert other.exit_code == 1
        assert "is not an endpoint of the plan" in other.stderr
        assert foreign.calls == []
        assert len(world.cce.calls) == before


def test_a_resealed_plan_pointing_at_another_local_port_is_refused(world: World) -> None:
    """Loopback is not trusted: a port on this machine may be anybody's. Allowed
    by the operator, the plan is applied there."""
    foreign = Recorder(world.emulator.app)
    with serve(foreign, "127.0.0.1") as port:
        elsewhere = f"http://127.0.0.1:{port}"
        path, _ = _saved(world)
        _edit(path, _move_to(elsewhere), reseal=True)
        env = {"HW_ACCESS_KEY": None, "HW_SECRET_KEY": None, "HW_AUTH_TOKEN": TOKEN}
        refused = world.cli("apply", str(path), "--auto-approve", env=env)
        assert refused.exit_code == 1, refused.output
        assert f"the plan's endpoint {elsewhere!r} is not allowed" in refused.stderr
        assert foreign.calls == [] and TOKEN not in refused.output
        allowed = world.cli("apply", str(path), "--auto-approve", "--poll-interval", "0.05",
                            env={"RECONCILER_ALLOWED_ENDPOINTS": elsewhere})
        assert allowed.exit_code == 0, allowed.output
        assert foreign.writes


def test_a_confirmed_custom_endpoint_is_used(world: World) -> None:
    """The user names the endpoint again: then it is theirs to trust."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address")
    other = Recorder(world.emulator.app)
    with serve(other, address) as port:
        custom = f"http://{address}:{port}"
        path = world.tmp / "c.json"
        made = world.cli("plan", "desired.yaml", "--endpoint", custom, "--out", str(path))
        assert made.exit_code == 0, made.output
        refused = world.cli("apply", str(path), "--auto-approve")
        assert refused.exit_code == 1 and f"or --endpoint {custom}" in refused.stderr
        done = world.cli("apply", str(path), "--auto-approve", "--endpoint", custom,
                         "--poll-interval", "0.05")
        assert done.exit_code == 0, done.output
        assert other.writes


@pytest.mark.parametrize("cut", [0, 1, 200, -2], ids=["empty", "one-byte", "head", "tail"])
def test_a_truncated_plan_is_not_read_as_desired_state(world: World, cut: int) -> None:
    path, _ = _saved(world)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:cut], encoding="utf-8")
    before = len(world.cce.calls)
    result = world.cli("apply", str(path), "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "not a valid plan file" in result.stderr
    assert "apiVersion" not in result.stderr  # no desired-state diagnostics
    assert len(world.cce.calls) == before


def test_a_plan_without_a_digest_is_refused(world: World) -> None:
    path, _ = _saved(world)
    _edit(path, lambda data: data.pop("digest"))
    result = world.cli("apply", str(path), "--auto-approve")
    assert result.exit_code == 1
    assert "no digest" in result.stderr and "re-run `reconciler plan --out`" in result.stderr


def test_a_version_1_plan_says_re_run_plan(world: World) -> None:
    path, _ = _saved(world)

    def to_v1(data: dict[str, Any]) -> None:
        data.pop("digest")
        data["format_version"] = 1

    _edit(path, to_v1)
    result = world.cli("show", str(path))
    assert result.exit_code == 1
    assert "older format" in result.stderr and "re-run" in result.stderr


def test_a_plan_without_json_suffix_is_still_recognised(world: World) -> None:
    path, _ = _saved(world)
    renamed = path.rename(world.tmp / "reviewed.plan")
    _edit(renamed, _downgrade)
    result = world.cli("apply", str(renamed), "--auto-approve")
    assert result.exit_code == 1
    assert CHANGED in result.stderr


def test_a_saved_plan_is_never_desired_state(world: World) -> None:
    path, _ = _saved(world)
    for command in ("plan", "drift"):
        result = world.cli(command, str(path))
        assert result.exit_code == 1
        assert "is a saved plan, not a desired-state file" in result.stderr
    mixed = world.cli("apply", "desired.yaml", str(path))
    assert mixed.exit_code == 1 and "applied alone" in mixed.stderr


@pytest.mark.parametrize(
    ("risk", "message"),
    [("nosuch/coredns:X", "no cluster 'nosuch' in the plan; known clusters: t-main"),
     ("t-main/nosuch:X", "cluster 't-main' has no add-on 'nosuch' in the plan; known add-ons:"),
     ("t-main", "expected CLUSTER/ADDON:RiskName")],
)
def test_accept_risk_is_checked_the_same_in_plan_and_apply(
    world: World, risk: str, message: str
) -> None:
    path, _ = _saved(world)
    before = len(world.cce.calls)
    results = [
        world.cli("plan", "desired.yaml", "--endpoint", world.url, "--accept-risk", risk),
        world.cli("apply", "desired.yaml", "--endpoint", world.url, "--accept-risk", risk),
        world.cli("apply", str(path), "--accept-risk", risk),
    ]
    assert [r.exit_code for r in results] == [1, 1, 1]
    assert len({r.stderr for r in results}) == 1, [r.stderr for r in results]
    assert message in results[0].stderr
    assert len(world.cce.calls) == before


def test_a_known_accept_risk_is_still_accepted(world: World) -> None:
    result = world.cli("plan", "desired.yaml", "--endpoint", world.url,
                       "--accept-risk", "t-main/metrics-server:K8sResourceModified")
    assert result.exit_code == 0, result.output


def _bogus_on_failure(data: dict[str, Any]) -> None:
    data["clusters"][0]["changes"][0]["on_failure"] = "explode"


def _bogus_severity(data: dict[str, Any]) -> None:
    data["clusters"][0].setdefault("errors", []).append(
        {"file": "d.yaml", "line": 1, "column": 1, "key_path": "k", "message": "m", "hint": "",
         "severity": "catastrophic"})


@pytest.mark.parametrize("edit", [_bogus_on_failure, _bogus_severity],
                         ids=["on_failure", "severity"])
def test_a_resealed_plan_with_an_unknown_enum_value_is_refused_cleanly(
    world: World, edit: Callable[[dict[str, Any]], None]
) -> None:
    # The fields are enums in memory: a value outside them must be a one-line
    # error from the plan schema, never a ValueError traceback, and send nothing.
    path, _ = _saved(world)
    before = len(world.cce.calls)
    _edit(path, edit, reseal=True)
    result = world.cli("apply", str(path), "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert len(world.cce.calls) == before
    assert not (world.tmp / "state").exists()
