"""Fingerprint of the live instances a plan was computed from (docs/planning.md, "Saved plans").

Pure: no I/O. A saved plan stores it per cluster; apply re-reads the live
instances and refuses the plan if the fingerprint moved (someone changed the
cluster in between).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence

import orjson

from reconciler.model.live import IN_PROGRESS_STATUSES, AddonInstance

__all__ = ["fingerprint_instances"]


def fingerprint_instances(instances: Sequence[AddonInstance], key: str = "") -> str:
    """sha256 (hex) of each instance's uid, version, status and values,
    independent of the order the API listed them in, keyed by ``key``.

    Live values hold secrets in clear, and a plan file carries this: keyed by
    the state's salt, which no plan file holds, it can't be used to test
    guesses of a secret offline (model.sensitive). ``""``: unkeyed, as plans
    made before the key was added.

    An operation in flight counts as the ``running`` it is heading for: CCE
    reports its target version and values from the start, and a plan made
    during it (which apply waits for) must not go stale just because it
    finished. One that fails changes the status, and the plan is stale."""
    records = sorted(
        ([i.uid, i.template_name, i.version, _settling(i.status.status), i.values]
         for i in instances),
        key=lambda r: (r[0], r[1], r[2], r[3]),
    )
    if key:
        return hmac.new(key.encode(), _canonical(records), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(records)).hexdigest()


_DIGITS = frozenset(b"0123456789.")
_BEFORE_A_NUMBER = frozenset(b":[,")


def _orjson_may_differ(text: bytes) -> bool:
    """Whether orjson may have written a float unlike the standard library:
    below 1e-4 it writes ``0.00001`` for ``1e-05`` and ``2.5e-7`` for
    ``2.5e-07``; everything else JSON holds comes out the same. A number
    follows ``:``, ``[`` or ``,`` in compact JSON; text that merely looks like
    one (a uuid's ``…9e-…``) does not, and the rare text that does only costs
    the slow path. (A regex did this at 5x the cost of the encoding.)"""
    if b"0.0000" in text:
        return True
    at = text.find(b"e-")
    while at != -1:
        start = at
        while start > 0 and text[start - 1] in _DIGITS:
            start -= 1
        if start < at and start > 0:
            if text[start - 1] == 0x2D:  # a minus sign
                start -= 1
            if start > 0 and text[start - 1] in _BEFORE_A_NUMBER:
                return True
        at = text.find(b"e-", at + 2)
    return False


def _canonical(records: Sequence[object]) -> bytes:
    """The records as sorted, compact JSON: the standard library's bytes, which
    saved plans' fingerprints were made of. orjson writes them 5-10x faster
    (this ran once per cluster per plan); the rare tree it would write
    differently (a tiny float, an int past 64 bits) takes the slow path."""
    try:
        fast = orjson.dumps(records, option=orjson.OPT_SORT_KEYS, default=_freeze)
    except (orjson.JSONEncodeError, TypeError):
        fast = b""
    if fast and not _orjson_may_differ(fast):
        return fast
    return json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_freeze).encode()


def _settling(status: str) -> str:
    return "running" if status in IN_PROGRESS_STATUSES else status


def _freeze(value: object) -> object:
    # values are read-only Mappings / tuples when built by the cloud layer
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
