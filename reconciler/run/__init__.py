"""Orchestration: the plan, apply, drift and import flows, and server prechecks.

Below ``cli`` (which parses options and writes output) and above the layers it
drives (apply, views, planfile, engine, config, cloud, statemgr). It never
imports click, and it never imports the emulator (a sibling on the same floor).
"""

from __future__ import annotations

__all__: list[str] = []
