"""Loops among the entries of a file's ``vars:`` block.

The loader resolves ``vars:`` by rendering the file leniently until the block
stops changing (config/loader.py). A loop whose values do not grow settles too
(``a: "{{ vars.b }}"`` and ``b: "{{ vars.a }}"`` both settle on ``""``) and
would pass as two empty variables. So the references are read from the
template itself: each ``vars.NAME`` / ``vars['NAME']`` expression belongs to
the entry whose lines hold it, and a path from an entry back to itself is an
error naming the loop. An entry that ``--var`` or a var file sets is no link
(their value wins over the block's).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import jinja2
import yaml
from jinja2 import nodes

from reconciler.config.linemap import LineMap

__all__ = ["VarsLoop", "vars_loop"]


class VarsLoop:
    """Entries that refer to each other in a loop, from the first back to it."""

    def __init__(self, names: list[str], line: int, column: int) -> None:
        self.names = names
        self.line = line
        """1-based source line of the first entry's key."""
        self.column = column

    def text(self) -> str:
        return " → ".join(f"vars.{name}" for name in [*self.names, self.names[0]])


def vars_loop(source: str, root: yaml.Node | None, rendered: str,
              overridden: Collection[str]) -> VarsLoop | None:
    """The first loop among the ``vars:`` entries of ``source`` (``root`` is the
    node tree of ``rendered``, a lenient rendering of it), or None."""
    entries = _entries(root, LineMap(source, rendered), source.count("\n") + 1)
    if not entries:
        return None
    names = {name for name, *_ in entries}
    edges: dict[str, list[str]] = {name: [] for name in names}
    try:
        tree = jinja2.Environment(autoescape=False).parse(source)
    except jinja2.TemplateSyntaxError:
        return None  # the strict render reports it
    for line, target in _references(tree):
        if target not in names or target in overridden:
            continue
        for name, first, last, _ in entries:
            if first <= line <= last:
                edges[name].append(target)
    cycle = _first_cycle(edges, [name for name, *_ in entries])
    if cycle is None:
        return None
    where = {name: (first, column) for name, first, _, column in entries}
    line, column = where[cycle[0]]
    return VarsLoop(cycle, line, column)


def _entries(root: yaml.Node | None, linemap: LineMap,
             last_line: int) -> list[tuple[str, int, int, int]]:
    """(name, first source line, last source line, column) of each entry."""
    if not isinstance(root, yaml.MappingNode):
        return []
    keys = [key for key, _ in root.value]
    block = next((value for key, value in root.value if key.value == "vars"), None)
    if not isinstance(block, yaml.MappingNode) or not block.value:
        return []
    index = next(i for i, key in enumerate(keys) if key.value == "vars")
    # The block ends where the next top-level key begins (or with the file).
    end = (_source_line(keys[index + 1], linemap) - 1 if index + 1 < len(keys) else last_line)
    starts = [(str(key.value), _source_line(key, linemap), key.start_mark.column + 1)
              for key, _ in block.value]
    found = []
    for i, (name, first, column) in enumerate(starts):
        last = starts[i + 1][1] - 1 if i + 1 < len(starts) else end
        found.append((name, first, max(first, last), column))
    return found


def _source_line(node: yaml.Node, linemap: LineMap) -> int:
    mark = node.start_mark
    return linemap.source_position(mark.line + 1, mark.column + 1).line


def _references(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    """(line, name) of each ``vars.NAME`` and ``vars['NAME']`` in the template."""
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == "vars":
            yield attr.lineno, attr.attr
    for item in tree.find_all(nodes.Getitem):
        if (isinstance(item.node, nodes.Name) and item.node.name == "vars"
                and isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str)):
            yield item.lineno, item.arg.value


def _first_cycle(edges: dict[str, list[str]], order: list[str]) -> list[str] | None:
    """A cycle of the graph, as the names along it, searched in ``order``."""
    done: set[str] = set()
    for start in order:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(edges[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            name, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                path.pop()
                on_path.discard(name)
                done.add(name)
                continue
            if target in on_path:
                return path[path.index(target):]
            if target not in done:
                stack.append((target, iter(edges[target])))
                path.append(target)
                on_path.add(target)
    return None
