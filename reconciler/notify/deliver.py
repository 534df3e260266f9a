"""Send one event to every target, each bounded by a timeout; failures become warnings."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import apprise

from reconciler.masking import mask
from reconciler.model.json import JSON
from reconciler.notify.targets import Target

__all__ = ["DEFAULT_TIMEOUT_S", "Delivery", "deliver", "sign"]

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Delivery:
    delivered: tuple[str, ...]
    """The targets (as shown) that took the event."""
    failures: tuple[str, ...]
    """One line per target that did not: ``json://host/…: HTTP 500``."""


def sign(body: bytes, key: bytes) -> str:
    """The ``X-Signature`` header value of ``body`` (Flux's generic-hmac)."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def deliver(targets: Sequence[Target], payload: dict[str, JSON], title: str, text: str,
            *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Delivery:
    """``payload`` (JSON, to webhooks) or ``title``/``text`` (to Apprise services),
    all targets at once; none takes longer than ``timeout_s`` (a hung one is left
    behind on a daemon thread and counted as failed)."""
    # The last net: whatever a server message carried, masked as on stdout.
    body = mask(json.dumps(payload, sort_keys=True, ensure_ascii=False)).encode()
    title, text = mask(title), mask(text)
    results: dict[int, str] = {}

    def one(index: int, target: Target) -> None:
        try:
            if target.is_webhook:
                results[index] = _post(target, body, timeout_s)
            else:
                results[index] = _apprise(target, title, text, timeout_s)
        except Exception as err:
            results[index] = f"{type(err).__name__}: {err}"

    # Apprise's own warnings may name the URL (a token): we say what failed instead.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    threads = [threading.Thread(target=one, args=(i, t), daemon=True, name="notify")
               for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # The joins share one deadline: the targets ran in parallel.
        thread.join(timeout_s + 1.0)
    delivered, failures = [], []
    for index, target in enumerate(targets):
        outcome = results.get(index, f"no answer within {timeout_s:g}s")
        if outcome:
            failures.append(mask(f"{target.shown}: {outcome}"))
        else:
            delivered.append(target.shown)
    return Delivery(tuple(delivered), tuple(failures))


def _post(target: Target, body: bytes, timeout_s: float) -> str:
    request = urllib.request.Request(
        target.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "reconciler",
                 "X-Signature": sign(body, target.hmac_key)})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            reply.read(65536)
            return ""
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except urllib.error.URLError as err:
        return str(err.reason)
    except TimeoutError:
        return f"no answer within {timeout_s:g}s"


def _apprise(target: Target, title: str, text: str, timeout_s: float) -> str:
    plugin = apprise.Apprise.instantiate(target.url, suppress_exceptions=True)
    if not plugin:
        return "not an Apprise URL"
    # Apprise's own bounds on connect and read, within ours.
    plugin.socket_connect_timeout = timeout_s
    plugin.socket_read_timeout = timeout_s
    if plugin.notify(body=text, title=title):
        return ""
    return "apprise could not deliver it (refused, unreachable or timed out)"
