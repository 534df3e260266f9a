"""Inputs that change nothing: warnings, not errors (the run goes on).

A mistyped input is as silent as a mistyped value key: ``--var dns_replica=3``
(for ``dns_replicas``) renders the file with the default, a profile whose
``clusters:`` selector matches no cluster applies to none, a wave whose
selector matches none is empty. Each is said once, where it was written.

Variables are found unused by reading the files' Jinja2 syntax trees: a
``vars.NAME`` or ``vars['NAME']`` anywhere (the ``vars:`` block included)
uses NAME. A file that reads ``vars`` any other way (``vars[key]``,
``vars | tojson``) could use every variable, so then none is reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

import jinja2
from jinja2 import nodes

from reconciler.config.source import SourceFile
from reconciler.kit.selectors import PatternKind, SelectorError, parse_pattern
from reconciler.model.desired import ClusterSpec
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.rollout import Rollout

__all__ = ["unused_profiles", "unused_variables", "unused_wave_selectors"]


def unused_variables(texts: Iterable[str], given: Mapping[str, str]) -> list[Diagnostic]:
    """``given``: each variable set by ``--var`` or a var file → where (``--var``
    or the var file's path), later settings having replaced earlier ones."""
    if not given:
        return []
    used: set[str] = set()
    for text in texts:
        found = _vars_read(text)
        if found is None:
            return []  # read as a whole somewhere: any variable may be used
        used |= found
    return [
        Diagnostic(where, 0, 0, "", f"variable `{name}` is used by no file",
                   _close_hint(name, used), severity=Severity.WARNING)
        for name, where in given.items() if name not in used
    ]


def _close_hint(name: str, used: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(used), n=1)
    if close:
        return f"did you mean {close[0]}? The files read: {', '.join(sorted(used))}"
    return f"the files read: {', '.join(sorted(used)) or 'no variables'}"


def _vars_read(text: str) -> set[str] | None:
    """The names read as ``vars.NAME``/``vars['NAME']``; None if ``vars`` is
    read some other way (or the text does not parse: the render reports that)."""
    try:
        tree = jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError:
        return None
    names: set[str] = set()
    reached: set[int] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "vars":
            names.add(node.attr)
            reached.add(id(node.node))
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and item.node.name == "vars":
            if not (isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str)):
                return None
            names.add(item.arg.value)
            reached.add(id(item.node))
    every = [n for n in tree.find_all(nodes.Name) if n.name == "vars"]
    if any(id(n) not in reached for n in every):
        return None
    return names


def unused_profiles(sources: Sequence[SourceFile],
                    profiles: Mapping[str, tuple[SourceFile, dict[str, object]]],
                    specs: Sequence[ClusterSpec]) -> list[Diagnostic]:
    """A profile no declared cluster uses (not by its ``clusters:``, not by name)."""
    applied = {name for spec in specs for name in spec.profiles}
    return [
        source.diagnostic(("profiles", name),
                          f"profile `{name}` applies to no cluster",
                          "its `clusters:` matches none and no cluster lists it in "
                          "`profiles:`", severity=Severity.WARNING)
        for name, (source, _) in profiles.items() if name not in applied
    ]


def unused_wave_selectors(rollout: Rollout, source: SourceFile,
                          specs: Sequence[ClusterSpec]) -> list[Diagnostic]:
    """A wave's glob or label selector that matches no declared cluster (a
    name matching none is an error already: rollout.rollout_coverage)."""
    found: list[Diagnostic] = []
    for index, wave in enumerate(rollout.waves):
        for position, text in enumerate(wave.clusters):
            try:
                pattern = parse_pattern(text)
            except SelectorError:
                continue  # an error already
            if pattern.kind is PatternKind.NAME:
                continue
            if any(pattern.matches(spec.name, spec.labels) for spec in specs):
                continue
            what = "selector" if pattern.kind is PatternKind.SELECTOR else "pattern"
            found.append(source.diagnostic(
                ("rollout", "waves", index, "clusters", position),
                f"wave `{wave.name}`: {what} `{text}` matches no cluster",
                "check the labels of the clusters, or drop it", severity=Severity.WARNING,
                at_value=True))
    return found
