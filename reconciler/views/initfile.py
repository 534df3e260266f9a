"""The text of the desired-state file ``reconciler init`` writes.

YAML cannot carry comments through a dumper, so the document is dumped with
markers where a comment or a ``secret()`` placeholder goes, and the markers
are then replaced line by line. The file is rendered by Jinja2 before it is
parsed, so every ``{{``, ``{%`` and ``{#`` of a live value is escaped as an
expression that prints it back (``{{ '{{' }}``). The output is deterministic
(no timestamp): re-running ``init`` on an unchanged fleet changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.engine.onboard import AddonBlock, ClusterEntry, Onboarded, Secret
from reconciler.kit.yamlout import Flow, FlowList, dump

__all__ = ["CCE_INSTALLED_NOTE", "init_file_text", "secret_comment"]

CCE_INSTALLED_NOTE = "installed by CCE with the cluster; values as CCE set them"
PROFILE_CCE_NOTE = "installed by CCE; values as CCE set them unless a cluster says otherwise"

_MARK = "RECONCILER-INIT-MARK-"
_MARKER = re.compile(re.escape(_MARK) + r"(\d+)-")
_JINJA = re.compile(r"\{[{%#]")


def secret_comment(variable: str) -> str:
    return (f"not copied from the cluster: set {variable} (where env is allow-listed, "
            f"also --allow-env {variable} or RECONCILER_ALLOW_ENV)")


class _Text:
    """Collects (replacement, comment) per marker while the document is built."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, str]] = []

    def mark(self, replacement: str, comment: str) -> str:
        self.marks.append((replacement, comment))
        return f"{_MARK}{len(self.marks) - 1}-"


def init_file_text(onboarded: Onboarded, *, region: str, project_id: str,
                   endpoint: str | None, header: str) -> str:
    """The file: ``header`` as leading comment lines, then the document."""
    text = _Text()
    defaults: dict[str, Any] = {"region": region, "project_id": project_id}
    if endpoint:
        defaults["endpoint"] = endpoint
    document: dict[str, Any] = {"apiVersion": "reconciler/v1", "defaults": defaults}
    if onboarded.profiles:
        document["profiles"] = {
            p.name: {"clusters": FlowList(p.clusters),
                     "addons": _addons(p.addons, text, PROFILE_CCE_NOTE)}
            for p in onboarded.profiles}
    document["clusters"] = {c.name: _cluster(c, text) for c in onboarded.clusters}
    body = _JINJA.sub(lambda m: "{{ '" + m.group(0) + "' }}", dump(document, width=100_000))
    lines = []
    for line in body.splitlines():
        comments: list[str] = []

        def put(match: re.Match[str], comments: list[str] = comments) -> str:
            replacement, comment = text.marks[int(match.group(1))]
            if comment:
                comments.append(comment)
            return replacement

        line = _MARKER.sub(put, line)
        lines.append(line + "".join(f"  # {c}" for c in comments[:1])
                     + "".join(f"; {c}" for c in comments[1:]))
    lead = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return lead + "\n".join(lines) + "\n"


def _cluster(entry: ClusterEntry, text: _Text) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cluster_id": text.mark(_scalar(entry.cluster_id),
                                f"Kubernetes {entry.kubernetes_version}"),
    }
    if entry.labels:
        out["labels"] = Flow(sorted(entry.labels.items()))
    if entry.addons:
        out["addons"] = _addons(entry.addons, text, CCE_INSTALLED_NOTE)
    return out


def _addons(blocks: Mapping[str, AddonBlock], text: _Text, note: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, block in blocks.items():
        key = text.mark(name, note) if block.cce_installed else name
        head: dict[str, Any] = {}
        if block.version is not None:
            head["version"] = block.version
        if block.flavor is not None:
            head["flavor"] = block.flavor
        if block.allow_unknown_values:
            # Keys the template lacks but the running add-on holds: CCE took them.
            head["allow_unknown_values"] = list(block.allow_unknown_values)
        if not block.values:
            out[key] = Flow(head)
            continue
        out[key] = {**head, "values": _values(block.values, text)}
    return out


def _values(tree: Any, text: _Text) -> Any:
    if isinstance(tree, Secret):
        return text.mark(f"\"{{{{ secret('{tree.variable}') }}}}\"",
                         secret_comment(tree.variable))
    if isinstance(tree, Mapping):
        return {k: _values(v, text) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_values(v, text) for v in tree]
    return tree


def _scalar(value: str) -> str:
    """A string as a YAML scalar (JSON's double-quoted form is YAML), Jinja-escaped."""
    written = json.dumps(value)
    return _JINJA.sub(lambda m: "{{ '" + m.group(0) + "' }}", written)
