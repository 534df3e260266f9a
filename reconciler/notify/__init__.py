"""Notifications: deliver one event (a JSON payload and its text) to the operator's targets.

Targets come from the operator only (``--notify``, ``RECONCILER_NOTIFY``),
never from desired-state files: Apprise URLs (``slack://``, ``json://`` …,
delivered by the apprise library with its own HTTP) and the generic
``hmac+https://`` webhook, whose JSON body is signed with HMAC-SHA256
(``X-Signature: sha256=<hex>``, Flux's ``generic-hmac``) and POSTed with the
standard library (only ``cloud`` uses httpx). A target that fails is a
warning, never an error: ``deliver`` returns what went wrong and raises
nothing. What the events say is ``views/notification.py``; docs/notifications.md.
"""

from __future__ import annotations

from reconciler.notify.deliver import DEFAULT_TIMEOUT_S, Delivery, deliver
from reconciler.notify.targets import (
    DEFAULT_HMAC_KEY_ENV,
    Target,
    TargetError,
    parse_targets,
    split_targets,
)

__all__ = [
    "DEFAULT_HMAC_KEY_ENV",
    "DEFAULT_TIMEOUT_S",
    "Delivery",
    "Target",
    "TargetError",
    "deliver",
    "parse_targets",
    "split_targets",
]
