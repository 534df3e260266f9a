"""Stdlib-only helpers at the bottom floor: AK/SK signer, token bucket, polling.

Nothing here imports anything of ours (not even ``model``) or any third-party
library, so that both the client (``cloud``) and the emulator, an independent
oracle that must not share the client's code, can use the same helpers. The
one atomic-write helper is ``reconciler.masking.files.write_atomic``, which
sits at this floor too.
"""

from __future__ import annotations

__all__: list[str] = []
