"""Errors of an endpoint that could not be reached, said once per endpoint.

Fifty clusters behind one unreachable endpoint used to print fifty identical
``ConnectError`` lines, on stdout in the plan and again on stderr. On stderr
they are now one line per endpoint naming how many clusters it left
unchecked (``grouped_error_lines``); in a plan or drift report a cluster's
error reads as a short "not checked" line (``short_unreachable``).

The cause is recognised in the error's text, which the cloud layer words in
exactly two ways for a request that got no HTTP answer: ``connection to
HOST:PORT failed: KIND`` and ``no answer in time from HOST:PORT``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.model.diagnostics import Diagnostic

__all__ = ["grouped_error_lines", "short_unreachable", "unreachable_cause"]

_CONNECT = re.compile(r"connection to (?P<host>[^\s;,()]+) failed: (?P<why>\w+)")
_TIMEOUT = re.compile(r"no answer in time from (?P<host>[^\s;,()]+)")
_NAMED = 5
"""Clusters named in a group's line; the rest are counted."""


def unreachable_cause(message: str) -> tuple[str, str] | None:
    """``(host:port, why)`` if ``message`` is an error of a request that got no answer."""
    found = _CONNECT.search(message)
    if found:
        return found["host"], found["why"]
    found = _TIMEOUT.search(message)
    if found:
        return found["host"], "no answer in time"
    return None


def short_unreachable(message: str) -> str | None:
    """A cluster's error in a report, when its endpoint could not be reached."""
    cause = unreachable_cause(message)
    if cause is None:
        return None
    host = cause[0]
    return f"not checked: {host} could not be reached (see stderr)"


@dataclass
class _Group:
    host: str
    why: str
    first: Diagnostic
    clusters: list[str] = field(default_factory=list)


def grouped_error_lines(errors: Iterable[tuple[str, Diagnostic]]) -> list[str]:
    """``(cluster, diagnostic)`` pairs ("" for a plan-wide one) as stderr lines:
    one per unreachable endpoint first, naming how many clusters it affects,
    then every other diagnostic as it is."""
    groups: dict[tuple[str, str], _Group] = {}
    others: list[str] = []
    for cluster, diagnostic in errors:
        cause = unreachable_cause(diagnostic.message) if cluster else None
        if cause is None:
            others.append(str(diagnostic))
            continue
        group = groups.setdefault(cause, _Group(cause[0], cause[1], diagnostic))
        if cluster not in group.clusters:
            group.clusters.append(cluster)
    lines = []
    for group in groups.values():
        count = len(group.clusters)
        named = ", ".join(group.clusters[:_NAMED])
        if count > _NAMED:
            named += f" and {count - _NAMED} more"
        noun = "cluster" if count == 1 else "clusters"
        lines.append(f"{group.first.location()}: {group.first.severity}: cannot connect to"
                     f" {group.host} ({group.why}): {count} {noun} not checked: {named}")
    return lines + others
