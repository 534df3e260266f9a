"""The ``rollout:`` block → ``Rollout``, with the checks the schema cannot make.

The block may be written in one file or, identically, in several (like
``state:``): a run follows one rollout. Its waves are checked against every
cluster of the files, before ``--cluster`` narrows them: a cluster no wave
takes would never be applied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from reconciler.config.build import timeout_seconds
from reconciler.config.patterns import pattern_problems, undeclared_name
from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import position_of
from reconciler.model.desired import ClusterSpec, SourceLocation
from reconciler.model.diagnostics import Diagnostic
from reconciler.model.rollout import PauseMode, Rollout, Wave, assign_waves

__all__ = ["build_rollout", "rollout_block", "rollout_coverage", "rollout_diagnostics"]

_NAMES_SHOWN = 10
"""Clusters named in the "in no wave" error before a count stands for the rest."""


def rollout_block(sources: Sequence[SourceFile],
                  problems: list[Diagnostic]) -> tuple[SourceFile, dict[str, Any]] | None:
    """The files' one ``rollout:`` block and its file; a different block in a
    second file is an error (a run follows one rollout)."""
    first: tuple[SourceFile, dict[str, Any]] | None = None
    for source in sources:
        block = source.data.get("rollout") if isinstance(source.data, dict) else None
        if not isinstance(block, dict):
            continue
        if first is None:
            first = (source, block)
        elif block != first[1]:
            where = first[0].diagnostic(("rollout",), "").location()
            problems.append(source.diagnostic(
                ("rollout",),
                f"conflicting `rollout:` blocks: this one differs from the one at {where}",
                "give the rollout block in one file only (or the same block in each)"))
    return first


def rollout_diagnostics(source: SourceFile, block: dict[str, Any]) -> Iterator[Diagnostic]:
    """Wave names once, one catch-all wave at most, selectors that parse."""
    waves = block.get("waves")
    if not isinstance(waves, list):
        return
    if not waves:
        yield source.diagnostic(("rollout", "waves"), "the rollout has no waves",
                                "add at least one wave, e.g. `- name: all` (no clusters: every "
                                "cluster)", at_value=True)
    names: dict[str, int] = {}
    catch_all: int | None = None
    for index, wave in enumerate(waves):
        if not isinstance(wave, dict):
            continue
        path = ("rollout", "waves", index)
        name = wave.get("name")
        if isinstance(name, str):
            if name in names:
                yield source.diagnostic(
                    (*path, "name"), f"wave `{name}` is declared twice",
                    f"wave names must be unique; the first is wave {names[name] + 1}",
                    at_value=True)
            else:
                names[name] = index
        clusters = wave.get("clusters")
        if clusters is None or clusters == []:
            if catch_all is not None:
                first = waves[catch_all].get("name", f"wave {catch_all + 1}")
                yield source.diagnostic(
                    path, f"two waves without `clusters:` (`{first}` and `{name}`)",
                    "only one wave may take every cluster no other wave takes; give the "
                    "others `clusters:` (names, globs or selectors such as env=prod)")
            else:
                catch_all = index
            continue
        if not isinstance(clusters, list):
            continue
        for position, text in enumerate(clusters):
            if isinstance(text, str):
                yield from pattern_problems(source, (*path, "clusters", position), text)[1]


def build_rollout(source: SourceFile, block: dict[str, Any]) -> Rollout:
    """The block as a ``Rollout`` (checked already: schema and rollout_diagnostics)."""
    waves = []
    for index, wave in enumerate(block.get("waves", ())):
        max_parallel = wave.get("max_parallel")
        waves.append(Wave(
            name=str(wave["name"]),
            clusters=tuple(wave.get("clusters") or ()),
            soak_s=timeout_seconds(wave.get("soak")) or 0.0,
            max_parallel=None if max_parallel is None else int(max_parallel),
            max_failures=int(wave.get("max_failures", 0)),
            location=_location(source, index),
        ))
    return Rollout(tuple(waves), PauseMode(block.get("pause", PauseMode.NONE)))


def rollout_coverage(rollout: Rollout, source: SourceFile,
                     specs: Sequence[ClusterSpec]) -> Iterator[Diagnostic]:
    """An error per wave naming a cluster that is not declared (a typo would move
    the cluster to a later wave, past its canary), and one naming the clusters no
    wave takes (only without a catch-all wave)."""
    known = {spec.name for spec in specs}
    for index, wave in enumerate(rollout.waves):
        for position, pattern in enumerate(wave.patterns):
            yield from undeclared_name(source, ("rollout", "waves", index, "clusters", position),
                                       f"wave `{wave.name}`", pattern, known)
    assigned = assign_waves(rollout, ((spec.name, spec.labels) for spec in specs))
    missing = [spec.name for spec in specs if spec.name not in assigned]
    if not missing:
        return
    shown = ", ".join(missing[:_NAMES_SHOWN])
    if len(missing) > _NAMES_SHOWN:
        shown += f" and {len(missing) - _NAMES_SHOWN} more"
    noun = "cluster is" if len(missing) == 1 else f"{len(missing)} clusters are"
    yield source.diagnostic(
        ("rollout", "waves"), f"{noun} in no wave: {shown}",
        "add them to a wave's `clusters:` (names, globs or selectors such as env=prod), or "
        "add a last wave without `clusters:` to take every cluster no other wave takes")


def _location(source: SourceFile, index: int) -> SourceLocation:
    _, node = source.nodes.find(("rollout", "waves", index))
    if node is None:
        return SourceLocation(source.path)
    rendered = position_of(node)
    mapped = source.linemap.source_position(rendered.line, rendered.column)
    return SourceLocation(source.path, mapped.line, mapped.column)
