"""A high-fidelity emulator of the CCE add-on API (see DESIGN.md section 10)."""

from __future__ import annotations
