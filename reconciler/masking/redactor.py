"""``Redactor``: replaces known secret literals in text by ``(sensitive)`` (pure, no I/O).

``(sensitive)`` rather than ``***``: it is the word plans, state and views
already use for a hidden value (docs/plan-json.md), so a reader meets one marker for
"hidden" and one grep finds them all.

Values shorter than ``MIN_LENGTH`` are not registered: masking "a" or "10"
everywhere would destroy the output while protecting almost nothing. Such a
secret is still protected where it matters by the structural hashing of
sensitive leaves, which does not depend on the value's length.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping

__all__ = [
    "CREDENTIAL_VARIABLES",
    "MASK",
    "MIN_LENGTH",
    "Redactor",
    "current_redactor",
    "mask",
    "register",
    "register_credentials",
    "register_paths",
    "reset_redactor",
    "sensitive_paths",
]

MASK = "(sensitive)"
MIN_LENGTH = 4

CREDENTIAL_VARIABLES = (
    "HW_ACCESS_KEY",
    "HW_SECRET_KEY",
    "CLOUD_SDK_AK",
    "CLOUD_SDK_SK",
    "HW_AUTH_TOKEN",
    "HW_SECURITY_TOKEN",
    # The state backends' (statemgr.s3, statemgr.postgres): their libraries log too.
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",
    "PG_CONN_STR",
)
"""Environment variables whose values are credentials (``cloud.credentials`` and the
state backends read them)."""


def _forms(value: str) -> set[str]:
    """The value as written in plain text and inside JSON strings.

    A secret holding ``"``, ``\\`` or a control character appears escaped in
    JSON output; with ``ensure_ascii`` (our default ``json.dumps``) a non-ASCII
    one appears as ``\\uXXXX`` escapes. Each spelling is masked.
    """
    return {
        value,
        json.dumps(value, ensure_ascii=True)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


class Redactor:
    """A set of secret literals and the one compiled pattern that finds them.

    ``add`` is thread-safe (the emulator serves from threads, apply runs many
    clusters); ``mask`` reads the current pattern without locking, since the
    pattern is replaced whole, never mutated.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._literals: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._paths: dict[str, frozenset[str]] = {}

    def add_paths(self, scope: str, paths: Iterable[str]) -> None:
        """Remember value paths (``custom.servers[0]``) that are sensitive in ``scope``
        (an add-on name), so a body read later can have its values there masked
        (``cloud.bodymask``) before it is logged."""
        new = frozenset(paths)
        if not new:
            return
        with self._lock:
            known = self._paths.get(scope, frozenset())
            if not new <= known:
                self._paths = {**self._paths, scope: known | new}

    def paths(self, scope: str) -> frozenset[str]:
        return self._paths.get(scope, frozenset())

    def add(self, value: str) -> None:
        """Mask ``value`` (and its JSON-escaped spellings) from now on; ignored if short."""
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            literals = self._literals | _forms(value)
            if literals == self._literals:
                return
            # Longest first: at one position the longer secret wins, so a secret
            # that contains another is masked whole, not around the shorter one.
            ordered = sorted(literals, key=lambda s: (-len(s), s))
            # A lookahead finds overlapping occurrences too (see ``mask``).
            alternation = "|".join(re.escape(s) for s in ordered)
            self._pattern = re.compile(f"(?=({alternation}))")
            self._literals = literals

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of a registered literal replaced by ``MASK``.

        Overlapping occurrences (the end of one secret is the start of
        another) are merged and masked as one span, so no part of either
        shows.
        """
        pattern = self._pattern
        if pattern is None or not text:
            return text
        spans: list[list[int]] = []
        for match in pattern.finditer(text):
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        if not spans:
            return text
        parts: list[str] = []
        position = 0
        for start, end in spans:
            parts += [text[position:start], MASK]
            position = end
        parts.append(text[position:])
        return "".join(parts)


_current = Redactor()


def current_redactor() -> Redactor:
    """The redactor of this process: secrets are read at the edges, masked everywhere."""
    return _current


def reset_redactor() -> Redactor:
    """Start from no secrets: each CLI run (and each test) registers its own."""
    global _current
    _current = Redactor()
    return _current


def mask(text: str) -> str:
    return _current.mask(text)


def register(values: Iterable[str | None]) -> None:
    for value in values:
        if value:
            _current.add(value)


def register_paths(scope: str, paths: Iterable[str]) -> None:
    _current.add_paths(scope, paths)


def sensitive_paths(scope: str) -> frozenset[str]:
    """The value paths registered as sensitive for ``scope`` (an add-on name) in this run."""
    return _current.paths(scope)


def register_credentials(environ: Mapping[str, str]) -> None:
    """Mask the credentials the environment holds, whether or not this run uses them."""
    register(environ.get(name) for name in CREDENTIAL_VARIABLES)
