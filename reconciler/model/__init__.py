"""Pure data shared by every layer: desired state, live state, plans, state files.

Nothing in this package performs I/O or imports a layer above it.
"""

from __future__ import annotations

__all__: list[str] = []
