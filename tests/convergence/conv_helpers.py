"""Shared pieces of the issue-11 convergence tests: the demo emulator served on a
real socket (optionally dropping chosen responses), the real CLI in-process, and
out-of-band edits made through the CCE API as a console user would make them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner, Result
from conftest import serve_emulator

from reconciler.cli import cli
from reconciler.cloud import CceClient, CloudSession, Credentials
from reconciler.emulator import DroppedConnection, Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path

__all__ = [
    "LEGACY_ID", "PROD_ID", "PROJECT", "REGION", "STAGING_ID", "Cloud", "desired", "serve_cloud",
]

T = TypeVar("T")

PROJECT = "0504201b6c80256b2f08c0099f0c8fe4"
REGION = "ap-southeast-1"
PROD_ID = "6b400e1c-4368-11f0-ba56-0255ac100037"
STAGING_ID = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
LEGACY_ID = "8d2e6b3f-4368-11f0-ba56-0255ac100037"

FAST = 1000.0
"""Emulated seconds per real second: the demo's 20 s install takes 20 ms."""


def desired(clusters: str) -> str:
    """A desired-state document for the demo account; ``clusters`` is the YAML
    body under ``clusters:`` (indented by two spaces)."""
    return ("apiVersion: reconciler/v1\n"
            "defaults:\n"
            f"  region: {REGION}\n"
            f"  project_id: \"{PROJECT}\"\n"
            "  endpoint: emulator://demo\n"
            "clusters:\n" + clusters)


@dataclass
class Cloud:
    url: str
    emulator: Emulator
    tmp: Path
    requests: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    """(method, path, status) of every request the emulator answered; status 0
    when the response was dropped."""
    drop_puts: int = 0
    """Handle this many of the next PUTs, then cut their response: the write
    happens but the client never hears back (a lost response, not a lost request)."""

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    @property
    def path(self) -> Path:
        return self.tmp / "desired.yaml"

    @property
    def env(self) -> dict[str, str]:
        account = self.emulator.account
        # The operator's allowances: the files' secret() variables and, for saved
        # plans (which carry their endpoint), this socket on the machine.
        return {"HW_ACCESS_KEY": account.access_key, "HW_SECRET_KEY": account.secret_key,
                "HW_AUTH_TOKEN": "", "NO_COLOR": "1", "RECONCILER_ALLOW_ENV": "*",
                "RECONCILER_ALLOWED_ENDPOINTS": self.url}

    def write(self, clusters: str) -> Path:
        self.path.write_text(desired(clusters), encoding="utf-8")
        return self.path

    def cli(self, *args: str) -> Result:
        """``reconciler ARGS --endpoint URL --state-dir DIR``, in-process."""
        return CliRunner().invoke(
            cli, [*args, "--endpoint", self.url, "--state-dir", str(self.state_dir)],
            env=self.env, catch_exceptions=False)

    def apply_saved(self, plan_file: Path) -> Result:
        """``reconciler apply PLANFILE``: a saved plan carries its own endpoints."""
        return CliRunner().invoke(
            cli, ["apply", str(plan_file), "--poll-interval", "0.02", "--timeout", "30",
                  "--state-dir", str(self.state_dir)],
            env=self.env, catch_exceptions=False)

    def plan(self, *args: str) -> Result:
        return self.cli("plan", str(self.path), *args)

    def apply(self, *args: str) -> Result:
        return self.cli("apply", str(self.path), "--auto-approve", "--poll-interval", "0.02",
                        "--timeout", "30", *args)

    def drift(self, *args: str) -> Result:
        return self.cli("drift", str(self.path), *args)

    def api(self, call: Callable[[CceClient], Awaitable[T]]) -> T:
        """Run ``call`` with a CCE client over the socket (an out-of-band edit)."""
        async def run() -> T:
            account = self.emulator.account
            credentials = Credentials(access_key=account.access_key,
                                      secret_key=account.secret_key,
                                      project_id=account.project_id, region=REGION)
            async with CloudSession(credentials=credentials) as session:
                return await call(session.client(self.url, REGION, PROJECT))

        return asyncio.run(run())

    def instance(self, cluster_id: str, template: str) -> Any:
        found = self.api(lambda c: c.list_instances(cluster_id))
        return next((i for i in found if i.template_name == template), None)

    def status(self, cluster_id: str, template: str) -> str:
        found = self.instance(cluster_id, template)
        return "absent" if found is None else str(found.status.status)

    def puts(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] == "PUT"]

    def state(self, cluster: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.state_dir / f"{cluster}.json").read_text(encoding="utf-8"))
        return data


@contextmanager
def serve_cloud(tmp: Path, time_scale: float = FAST) -> Iterator[Cloud]:
    emulator = Emulator(load_scenario(demo_scenario_path()), time_scale=time_scale)
    inner = emulator.app
    cloud = Cloud("", emulator, tmp)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method == "PUT" and cloud.drop_puts > 0:
            cloud.drop_puts -= 1

            async def cut(message: Any) -> None:
                # The emulator has handled the PUT by the time it starts its
                # response: send the headers and a scrap of body, then drop.
                if message["type"] == "http.response.start":
                    await send(message)
                    await send({"type": "http.response.body", "body": b'{"kind":',
                                "more_body": True})
                    cloud.requests.append((method, path, 0))
                    raise DroppedConnection()

            await inner(scope, receive, cut)
            return

        async def seen(message: Any) -> None:
            if message["type"] == "http.response.start":
                cloud.requests.append((method, path, message["status"]))
            await send(message)

        await inner(scope, receive, seen)

    emulator.app = recording  # type: ignore[method-assign,assignment]
    with serve_emulator(emulator) as url:
        cloud.url = url
        yield cloud
