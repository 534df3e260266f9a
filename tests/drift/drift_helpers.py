"""Shared pieces of the drift tests: the demo emulator on a real socket (fake
clock, every request recorded), the CLI, and out-of-band edits made through
the CCE API as a console user would make them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result
from conftest import FakeClock, serve_emulator

from reconciler.cli import cli
from reconciler.cloud import CceClient, CloudSession, Credentials
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path

T = TypeVar("T")

PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"
REGION = "ap-southeast-1"
STAGING_ID = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
LEGACY_ID = "8d2e6b3f-4368-11f0-ba56-0255ac100037"
UNKNOWN_ID = "00000000-dead-4000-8000-000000000000"

# Both clusters declared exactly as they run: the first apply only adopts
# (no add-on write), so it needs no emulated time to pass.
DESIRED = f"""apiVersion: reconciler/v1
defaults:
  region: {REGION}
  project_id: "{PROJECT}"
  endpoint: emulator://demo
clusters:
  demo-staging:
    cluster_id: {STAGING_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      metrics-server: {{}}
      volcano: {{}}
  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      npd: {{}}
"""

BROKEN = f"""  demo-gone:
    cluster_id: {UNKNOWN_ID}
    addons:
      coredns: {{}}
"""


@dataclass
class Cloud:
    url: str
    emulator: Emulator
    clock: FakeClock
    tmp: Path
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request the emulator received."""

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    @property
    def env(self) -> dict[str, str]:
        account = self.emulator.account
        return {"HW_ACCESS_KEY": account.access_key, "HW_SECRET_KEY": account.secret_key,
                "NO_COLOR": "1"}

    def desired(self, extra: str = "") -> Path:
        path = self.tmp / "desired.yaml"
        path.write_text(DESIRED + extra, encoding="utf-8")
        return path

    def cli(self, *args: str) -> Result:
        """``reconciler ARGS --endpoint URL --state-dir DIR``, in-process."""
        return CliRunner().invoke(
            cli, [*args, "--endpoint", self.url, "--state-dir", str(self.state_dir)],
            env={**self.env, "HW_AUTH_TOKEN": ""}, catch_exceptions=False)

    def drift(self, *args: str) -> Result:
        return self.cli("drift", str(self.tmp / "desired.yaml"), *args)

    def api(self, call: Callable[[CceClient], Awaitable[T]]) -> T:
        """Run ``call`` with a CCE client, then let emulated time pass so the
        operation it started finishes."""
        async def run() -> T:
            account = self.emulator.account
            credentials = Credentials(access_key=account.access_key,
                                      secret_key=account.secret_key,
                                      project_id=account.project_id, region=REGION)
            async with CloudSession(credentials=credentials) as session:
                return await call(session.client(self.url, REGION, PROJECT))

        result = asyncio.run(run())
        self.clock.advance(600)
        return result

    def instance(self, cluster_id: str, template: str) -> Any:
        found = self.api(lambda c: c.list_instances(cluster_id))
        return next(i for i in found if i.template_name == template)

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] not in ("GET", "HEAD")]


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    clock = FakeClock()
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=clock)
    requests: list[tuple[str, str]] = []
    inner = emulator.app

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            requests.append((scope["method"], scope["path"]))
        await inner(scope, receive, send)

    emulator.app = recording  # type: ignore[method-assign,assignment]
    with serve_emulator(emulator) as url:
        yield Cloud(url, emulator, clock, tmp_path, requests)


def applied(cloud: Cloud, extra: str = "") -> Cloud:
    """Write the desired file and apply it (adoptions only)."""
    cloud.desired(extra)
    result = cloud.cli("apply", str(cloud.tmp / "desired.yaml"), "--auto-approve")
    assert result.exit_code == 0, result.output
    return cloud


def report(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def addon(data: dict[str, Any], cluster: str, name: str) -> dict[str, Any]:
    c = next(c for c in data["clusters"] if c["name"] == cluster)
    found: dict[str, Any] = next(a for a in c["addons"] if a["addon"] == name)
    return found
