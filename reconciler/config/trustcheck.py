"""Endpoints and state URLs written in the files, checked against what the operator allows.

A desired-state file arrives through a pull request: an ``endpoint:`` (typed,
rendered by Jinja, or coming from a var file or ``--var``) or a ``state:
{url: …}`` that the operator has not allowed is an error at the line that
set it, found while loading, so no command (plan, apply, drift, import,
validate) ever sends a request there. The rule itself is
``model.trust.EndpointRule``.
"""

from __future__ import annotations

from reconciler.config.semantic import defaults_of
from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import KeyPath
from reconciler.model.desired import ClusterSpec
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.trust import EndpointRule

__all__ = ["endpoint_diagnostic", "state_diagnostic"]


def endpoint_diagnostic(source: SourceFile, spec: ClusterSpec,
                        rule: EndpointRule) -> Diagnostic | None:
    """The error of ``spec``'s endpoint, at the key it came from; None if allowed."""
    refused = rule.endpoint_refusal(spec.endpoint, spec.region)
    if refused is None:
        return None
    return source.diagnostic(_origin_key(source, spec.name), *refused, at_value=True)


def state_diagnostic(source: SourceFile, url: str, rule: EndpointRule) -> Diagnostic | None:
    """The error of a ``state: {url: …}`` naming a place the operator has not allowed."""
    refused = rule.state_refusal(url)
    if refused is None:
        return None
    return source.diagnostic(("state", "url"), *refused, at_value=True)


def _origin_key(source: SourceFile, name: str) -> KeyPath:
    """Where a cluster's endpoint was decided: its own ``endpoint``, the
    defaults', else the ``region`` it was derived from."""
    data = source.data if isinstance(source.data, dict) else {}
    clusters = data.get("clusters")
    block = clusters.get(name) if isinstance(clusters, dict) else None
    block = block if isinstance(block, dict) else {}
    defaults = defaults_of(source)
    for key in ("endpoint", "region"):
        if key in block:
            return ("clusters", name, key)
        if key in defaults:
            return ("defaults", key)
    return ("clusters", name)
