"""How the human plan views lay a fleet out: waves in rollout order, identical changes once.

A plan of a thousand clusters making the same change would otherwise repeat
that change a thousand times, and a pull-request comment could not show it at
all. Here a plan's clusters are split into one ``Block`` per rollout wave (one
block without a rollout), and within a block every shown change that is
identical on two or more clusters becomes one ``ChangeGroup`` naming them.
Everything else stays with its cluster: changes only one cluster makes, and
every cluster's errors, which are never grouped away.

Read from the JSON plan like the rest of the views; the rollout fields are
optional there, since plans written before waves existed lack them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.views import planview as pv

__all__ = [
    "FEW",
    "Block",
    "ChangeGroup",
    "blocks",
    "change_key",
    "duration_text",
    "keeps_version",
    "names_text",
    "rollout_rows",
    "shown_changes",
]

FEW = 10
"""Up to this many clusters are named one by one; more are counted."""
_NAMED_WHEN_MANY = 5


def names_text(names: Sequence[str], quote: Callable[[str], str] = str) -> str:
    """``a, b, c`` when few; ``a, b, c, d, e, … and 995 more`` when many
    (``quote`` formats each name, e.g. as Markdown code)."""
    if len(names) <= FEW:
        return ", ".join(quote(n) for n in names)
    first = ", ".join(quote(n) for n in names[:_NAMED_WHEN_MANY])
    return f"{first}, … and {len(names) - _NAMED_WHEN_MANY:,} more"


def duration_text(seconds: float) -> str:
    """``10m``, ``1h30m``, ``45s``, ``1.5s``: the way ``soak:`` is written."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def shown_changes(cluster: Mapping[str, Any]) -> list[pv.JSONDict]:
    """The changes a view shows: every write, and a no-op with precheck findings."""
    return [ch for ch in cluster["changes"] if ch["action"] != "no-op" or ch["findings"]]


def keeps_version(change: Mapping[str, Any]) -> bool:
    """Whether the change leaves the add-on at the version it runs (an update
    of values, a no-op shown for its findings, a repair in place): such a
    change is the same across clusters whatever version each runs."""
    before, after = change["before_version"], change["after_version"]
    return bool(before) and before == after and change["action"] != "delete"


def change_key(change: Mapping[str, Any], *, show_provenance: bool) -> str:
    """What a view shows of a change, as a string: equal keys render identically,
    but for the version of a change that keeps it (``keeps_version``): those
    group across versions, and the group names the versions its clusters run.

    The cluster's name and ids are not in it, nor a finding's task id. Values
    are compared as shown: a redacted leaf is ``(sensitive)`` whatever its
    salted hash, since salts differ per cluster by design; comparing hashes
    would keep every secret-bearing change apart without making the view any
    more truthful, and grouping must not tell which clusters share a secret.
    """
    field_changes = [
        [fc["path"], fc["kind"], fc["sensitive"],
         None if fc["sensitive"] else pv.format_value(fc["before"]),
         None if fc["sensitive"] else pv.format_value(fc["after"])]
        for fc in change["field_changes"]
    ]
    findings = [
        [f["risk"], f["level"], f["status"], f["message"], f["accepted"], f["blocking"]]
        for f in change["findings"]
    ]
    key: dict[str, Any] = {
        "addon": change["addon"],
        "action": change["action"],
        "adopting": change.get("adopting", False),
        "before": "" if keeps_version(change) else change["before_version"],
        "after": "" if keeps_version(change) else change["after_version"],
        "constraint": change.get("version_constraint", ""),
        "reason": change["reason"],
        "fields": field_changes,
        "findings": findings,
    }
    if show_provenance:
        key["provenance"] = pv.provenance_rows(change)
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ChangeGroup:
    """Changes that the same clusters all make identically, shown once."""

    clusters: tuple[str, ...]
    changes: tuple[pv.JSONDict, ...]
    """The first cluster's changes; every member's render the same, but for
    the version of an add-on in ``versions`` (blank here)."""
    versions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """Add-on → version → the clusters running it, for the add-ons whose
    clusters run different versions (the JSON plan keeps every change)."""

    def version_lines(self, quote: Callable[[str], str] = str) -> list[str]:
        """``coredns 1.28.7 on a; 1.29.4 on b, c``: one per add-on in ``versions``."""
        return [
            f"{quote(addon)} "
            + "; ".join(f"{quote(version)} on {names_text(names, quote)}"
                        for version, names in by_version.items())
            for addon, by_version in self.versions.items()
        ]


@dataclass(frozen=True)
class Block:
    """The clusters of one wave (``wave`` None: the plan has no rollout, or
    these clusters are in none of its waves), with their shared changes."""

    wave: pv.JSONDict | None
    clusters: tuple[pv.JSONDict, ...]
    shared: tuple[ChangeGroup, ...]
    """Changes identical on two or more of ``clusters``, in first-seen order."""
    own: Mapping[str, tuple[pv.JSONDict, ...]]
    """Cluster name → its shown changes that no other cluster of the block makes."""
    shared_addons: Mapping[str, tuple[str, ...]]
    """Cluster name → the add-ons of its changes shown in ``shared``."""

    def has_section(self, cluster: Mapping[str, Any]) -> bool:
        """Whether the cluster needs a section of its own (else a summary line covers it)."""
        return bool(self.own[cluster["name"]] or cluster["errors"] or cluster["readiness"])


def _block(wave: pv.JSONDict | None, clusters: Sequence[pv.JSONDict],
           show_provenance: bool) -> Block:
    keyed = [
        (cluster, [(change_key(ch, show_provenance=show_provenance), ch)
                   for ch in shown_changes(cluster)])
        for cluster in clusters
    ]
    members: dict[str, list[str]] = {}
    first: dict[str, pv.JSONDict] = {}
    versions: dict[str, dict[str, list[str]]] = {}
    for cluster, changes in keyed:
        for key, ch in changes:
            members.setdefault(key, []).append(cluster["name"])
            first.setdefault(key, ch)
            versions.setdefault(key, {}).setdefault(ch["after_version"], []).append(
                cluster["name"])
    shared = {key for key, names in members.items() if len(names) > 1}
    # Changes made by exactly the same clusters share one heading.
    by_clusters: dict[tuple[str, ...], list[pv.JSONDict]] = {}
    spread: dict[tuple[str, ...], dict[str, Mapping[str, tuple[str, ...]]]] = {}
    for key in members:
        if key not in shared:
            continue
        names = tuple(members[key])
        change = first[key]
        if len(versions[key]) > 1:
            # Shown once with no version of its own; the group says who runs which.
            change = {**change, "before_version": "", "after_version": ""}
            spread.setdefault(names, {})[change["addon"]] = {
                version: tuple(who) for version, who in sorted(
                    versions[key].items(), key=lambda item: _version_order(item[0]))}
        by_clusters.setdefault(names, []).append(change)
    return Block(
        wave=wave,
        clusters=tuple(clusters),
        shared=tuple(ChangeGroup(names, tuple(chs), spread.get(names, {}))
                     for names, chs in by_clusters.items()),
        own={c["name"]: tuple(ch for k, ch in changes if k not in shared) for c, changes in keyed},
        shared_addons={c["name"]: tuple(ch["addon"] for k, ch in changes if k in shared)
                       for c, changes in keyed},
    )


def _version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    # 1.9.0 before 1.10.0; a non-numeric part sorts after the numbers.
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in version.replace("-", ".").split("."))


def blocks(plan: Mapping[str, Any], *, show_provenance: bool) -> list[Block]:
    """One block per rollout wave in wave order (empty waves left out), then the
    clusters in no wave; one block of every cluster without a rollout."""
    clusters = plan["clusters"]
    rollout = plan.get("rollout")
    if not rollout:
        return [_block(None, clusters, show_provenance)] if clusters else []
    result = []
    placed: set[str] = set()
    for wave in rollout["waves"]:
        members = [c for c in clusters if c.get("wave") == wave["name"]]
        placed.update(c["name"] for c in members)
        if members:
            result.append(_block(wave, members, show_provenance))
    rest = [c for c in clusters if c["name"] not in placed]
    if rest:
        result.append(_block(None, rest, show_provenance))
    return result


def rollout_rows(plan: Mapping[str, Any]) -> list[tuple[str, int, str, str, str]]:
    """``(wave, clusters, soak, max parallel, max failures)`` per wave, as shown."""
    rollout = plan.get("rollout") or {"waves": []}
    counts: dict[str, int] = {}
    for cluster in plan["clusters"]:
        counts[cluster.get("wave", "")] = counts.get(cluster.get("wave", ""), 0) + 1
    return [
        (
            wave["name"],
            counts.get(wave["name"], 0),
            duration_text(wave["soak_s"]) if wave["soak_s"] else "none",
            str(wave["max_parallel"]) if wave["max_parallel"] is not None else "as --parallelism",
            str(wave["max_failures"]),
        )
        for wave in rollout["waves"]
    ]
