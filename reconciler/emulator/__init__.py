"""A high-fidelity emulator of the CCE add-on API (see docs/emulator.md).

``Emulator(scenario).app`` is an ASGI application; ``reconciler emulator
serve`` serves it on a socket. Scenario format and defaults: docs/emulator.md.
"""

from __future__ import annotations

from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import DroppedConnection, Faults
from reconciler.emulator.generate import generate_scenario
from reconciler.emulator.scenario import (
    Account,
    Scenario,
    ScenarioError,
    demo_scenario_path,
    load_scenario,
)

__all__ = [
    "Account",
    "DroppedConnection",
    "Emulator",
    "Faults",
    "Scenario",
    "ScenarioError",
    "demo_scenario_path",
    "generate_scenario",
    "load_scenario",
]
