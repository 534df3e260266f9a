"""Map positions in rendered text back to the Jinja2 source the user wrote.

``{{ … }}`` expressions keep lines where they are, so most rendered lines
have a source line with the same number. Block tags (``{% for %}``,
``{% if %}``) add and remove lines; there we align the two texts line by
line and, for lines produced by a block, point at the closest source line
and say that the position is approximate.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["LineMap", "SourcePosition"]

_LOOKBACK = 200
"""How many source lines before a changed region may have produced its lines."""


@dataclass(frozen=True)
class SourcePosition:
    line: int
    column: int
    exact: bool
    """False when the line came out of a Jinja block and was mapped by guesswork."""
    rendered_line: int


class LineMap:
    def __init__(self, source: str, rendered: str) -> None:
        self._identity = source == rendered
        """Nothing to render (a generated fleet file, most files): every line is
        its own source, so neither the lines nor a mapping are kept. For a
        10,000-cluster file they were ~40 MB of the loader's peak memory."""
        self._source = [] if self._identity else source.splitlines()
        self._rendered = [] if self._identity else rendered.splitlines()
        self._source_count = len(source.splitlines()) if self._identity else len(self._source)
        self._rendered_count = self._source_count if self._identity else len(self._rendered)
        self._shapes: dict[int, re.Pattern[str] | None] = {}

    @cached_property
    def _mapping(self) -> list[tuple[int, bool]]:
        """For each rendered line (0-based): (source line 0-based, exact)."""
        if len(self._source) == len(self._rendered) and "{%" not in "\n".join(self._source):
            return [(i, True) for i in range(len(self._rendered))]
        mapping: list[tuple[int, bool]] = []
        matcher = difflib.SequenceMatcher(None, self._source, self._rendered, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                # Same line, or the same line with an expression substituted.
                mapping.extend((i1 + k, True) for k in range(j2 - j1))
            elif tag in ("replace", "insert"):
                mapping.extend(
                    (self._producer(self._rendered[j1 + k], i1, i2, k), False)
                    for k in range(j2 - j1)
                )
        return mapping

    def _producer(self, rendered_line: str, i1: int, i2: int, offset: int) -> int:
        """The source line whose shape (expressions as wildcards) produced ``rendered_line``:
        first within ``[i1, i2)``, then going back (a loop body repeated after its first
        iteration was aligned). Else the closest line."""
        candidates: list[int] = [*range(i1, i2), *range(i1 - 1, max(i1 - _LOOKBACK, 0) - 1, -1)]
        for index in candidates:
            pattern = self._shape(index)
            if pattern is not None and pattern.fullmatch(rendered_line):
                return index
        return min(i1 + offset, max(i1, i2 - 1))

    def _shape(self, index: int) -> re.Pattern[str] | None:
        if index not in self._shapes:
            line = self._source[index]
            if "{%" in line:
                self._shapes[index] = None  # a block tag renders to nothing (trim_blocks)
            else:
                parts = re.split(r"\{\{.*?\}\}", line)
                self._shapes[index] = re.compile(".*?".join(re.escape(p) for p in parts))
        return self._shapes[index]

    def source_position(self, line: int, column: int) -> SourcePosition:
        """1-based rendered position → 1-based source position."""
        if not self._rendered_count:
            return SourcePosition(line, column, True, line)
        index = min(max(line - 1, 0), self._rendered_count - 1)
        if line - 1 >= self._rendered_count:
            # YAML reports end-of-input one line past the last line.
            source_line, exact = self._source_count - 1, True
            return SourcePosition(source_line + 2, column, exact, line)
        source_line, exact = (index, True) if self._identity else self._mapping[index]
        return SourcePosition(source_line + 1, column, exact, line)
