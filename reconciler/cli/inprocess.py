"""``emulator://NAME`` endpoints: the packaged emulator, served in-process.

The cloud layer only knows that some endpoints are served by an ASGI app in
this process (``CloudSession(in_process=...)``); the command line decides that
the app is the packaged emulator. This keeps the client from importing its own
oracle (the import-linter contract "the emulator imports neither the client
side nor httpx", and its mirror, "cloud does not import the emulator").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reconciler.cloud.errors import CloudError
from reconciler.cloud.preflight import check_emulator
from reconciler.cloud.session import InProcessService
from reconciler.emulator import Emulator, ScenarioError, demo_scenario_path, load_scenario

__all__ = ["EMULATOR_TIME_SCALE", "EmulatorServices", "packaged_scenarios"]

EMULATOR_TIME_SCALE = 10.0
"""In-process emulators run ten times faster than real time, so that a demo
apply finishes in seconds."""


@cache
def packaged_scenarios() -> tuple[str, ...]:
    """The NAMEs of ``emulator://NAME``: the packaged scenarios, which live
    beside the demo one."""
    return tuple(sorted(p.stem for p in demo_scenario_path().parent.glob("*.yaml")))


class EmulatorServices:
    """The ``in_process`` resolver of a command's ``CloudSession``.

    One emulator per NAME, started on first use, its state kept in
    ``<root>/emulator/NAME.json`` (``root`` is ``.reconciler``) so that
    successive runs see what earlier ones did; its own account is the
    credentials. ``started`` lets tests reach the emulator behind a name."""

    def __init__(self, root: Path, time_scale: float = EMULATOR_TIME_SCALE) -> None:
        self.root = root
        self.time_scale = time_scale
        self.started: dict[str, Emulator] = {}

    def __call__(self, name: str) -> InProcessService:
        emulator = self.started.get(name)
        if emulator is None:
            check_emulator(name, packaged_scenarios())
            scenario_file = demo_scenario_path().parent / f"{name}.yaml"
            try:
                emulator = Emulator(
                    load_scenario(scenario_file),
                    time_scale=self.time_scale,
                    state_file=self.root / "emulator" / f"{name}.json",
                )
            except (ScenarioError, ValueError) as exc:
                # A corrupt or unreadable state file: a cloud failure of this
                # endpoint, reported like any other, not a traceback.
                raise CloudError(f"emulator://{name}: {exc}") from None
            self.started[name] = emulator
        account = emulator.account
        return InProcessService(
            app=emulator.app,
            access_key=account.access_key,
            secret_key=account.secret_key,
            project_id=account.project_id,
        )
