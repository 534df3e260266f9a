"""Checks of cluster choosers as written in a file: a rollout wave's ``clusters:``
and a profile's (names, globs or label selectors, ``kit.selectors.parse_pattern``).

Both refuse a selector that does not parse, a name no cluster could have (a
mistyped selector) and a plain name that no file declares: a typo would
silently leave a cluster out of its canary wave or without its profile.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator

from reconciler.config.source import SourceFile
from reconciler.config.yamlnodes import KeyPath
from reconciler.kit.selectors import ClusterPattern, PatternKind, SelectorError, parse_pattern
from reconciler.model.diagnostics import Diagnostic

__all__ = ["known_hint", "pattern_problems", "undeclared_name"]

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""The schema's cluster names: anything else written as a name is a mistyped selector."""
_NAMES_SHOWN = 10
"""Clusters named in a hint before "…" stands for the rest."""


def pattern_problems(source: SourceFile, path: KeyPath, text: str
                     ) -> tuple[ClusterPattern | None, list[Diagnostic]]:
    """``text`` (written at ``path``) parsed, or None and why not."""
    try:
        pattern = parse_pattern(text)
    except SelectorError as err:
        return None, [source.diagnostic(path, str(err), at_value=True)]
    if pattern.kind is PatternKind.NAME and not _CLUSTER_NAME.match(text):
        return None, [source.diagnostic(
            path, f"`{text}` is neither a cluster name, a glob nor a label selector",
            "write a cluster name, a glob (prod-*) or a selector (env=prod, "
            "tier in (gold,silver))", at_value=True)]
    return pattern, []


def undeclared_name(source: SourceFile, path: KeyPath, owner: str, pattern: ClusterPattern,
                    known: Collection[str]) -> Iterator[Diagnostic]:
    """An error if ``pattern`` is a plain name that no file declares; ``owner``
    says who names it (``wave `canary```, ``profile `prod```)."""
    if pattern.kind is PatternKind.NAME and pattern.text not in known:
        yield source.diagnostic(
            path, f"{owner} names cluster `{pattern.text}`, which is not declared",
            known_hint(pattern.text, sorted(known)), at_value=True)


def known_hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    shown = ", ".join(known[:_NAMES_SHOWN]) + (" …" if len(known) > _NAMES_SHOWN else "")
    return f"clusters in these files: {shown or 'none'}"
