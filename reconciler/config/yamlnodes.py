"""YAML with positions: compose a node tree, convert it to plain data, find nodes by key path.

PyYAML's constructors forget where a value came from, so we compose the node
graph ourselves, keep it for the duration of validation (diagnostics look a
key path up in it), and convert it to plain JSON-like data. Duplicate keys,
which PyYAML silently lets the last one win, are reported here.

Files are untrusted, so a parsed tree is checked before anything walks it
recursively or expands it: nesting is limited to ``MAX_DEPTH`` levels, aliases
may add at most ``MAX_ALIAS_NODES`` nodes when expanded (a 600-byte "billion
laughs" file would otherwise expand to gigabytes), and recursive aliases are
refused. The composed graph shares aliased nodes, so checking it is cheap.
The same walk refuses what would fail only when the tree is converted: a tag
with no plain-data meaning (``!foo``, ``!!python/name:…``), an integer longer
than ``MAX_INT_CHARS`` (Python refuses to convert ones past 4,300 digits) and
a float that is not finite (``.inf``, ``.nan``: JSON, which the CCE API takes,
has neither, and a duration of ``.inf`` is no duration).
"""

from __future__ import annotations

import datetime
import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.resolver import Resolver

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_INT_CHARS",
    "DuplicateKey",
    "KeyPath",
    "NodeFinder",
    "PathPart",
    "Position",
    "YamlSyntaxError",
    "compose",
    "key_text",
    "mapping_items",
    "paused_gc",
    "position_of",
    "to_data",
]

MAX_DEPTH = 64
"""Nesting levels of mappings and lists (a desired-state file needs about 15)."""
MAX_ALIAS_NODES = 10_000
"""Nodes that expanding all aliases may add to a file."""

MAX_INT_CHARS = 1000
"""Characters of an integer literal: far beyond any real value, well below the
4,300 decimal digits past which Python refuses to convert (even from hex)."""

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge",
                 "value", "seq", "map")
)
"""Tags that convert to plain data; anything else (``!foo``, ``!!python/…``,
``!!set``) has no JSON form and is refused with its position."""
_TAG_HINT = ("desired-state and var files hold plain data: remove the tag, or quote "
             "the value to make it a string")

PathPart = str | int
KeyPath = tuple[PathPart, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column in the text that was parsed."""

    line: int
    column: int


@dataclass(frozen=True)
class DuplicateKey:
    path: KeyPath
    at: Position
    first: Position


class YamlSyntaxError(Exception):
    def __init__(
        self,
        message: str,
        at: Position | None,
        *,
        hint: str = "check indentation, colons and quoting near this position",
        context: str = "",
        context_at: Position | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.at = at
        self.hint = hint
        self.context = context
        """What the parser was inside of (``while parsing a flow sequence``)."""
        self.context_at = context_at


def position_of(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while node trees are alive.

    A 10,000-cluster file makes millions of nodes, kept until validation ends;
    the collector would re-scan them over and over (4× slower overall) to find
    no garbage: the trees have no cycles and are freed by reference counting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Mark:
    """A node's start position, all that is kept of PyYAML's marks: a
    10,000-cluster file has ~500,000 nodes, and two full marks each cost
    ~40 MB of the load's peak memory. Enough of ``yaml.Mark`` for PyYAML's
    error messages (``name``, ``line``, ``column``, ``get_snippet``)."""

    __slots__ = ("column", "line")
    name = "<unicode string>"
    index = 0
    buffer = None
    pointer = 0

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column

    def get_snippet(self, indent: int = 4, max_length: int = 75) -> None:
        return None

    def __str__(self) -> str:
        return f'  in "{self.name}", line {self.line + 1}, column {self.column + 1}'


class _Composing(Composer):
    """PyYAML's composer, each node's marks replaced by a compact start mark as
    soon as the node is built (the end mark is unused).

    PyYAML's C composer gives every node two full marks, dropped only once the
    whole tree is built: at 10,000 clusters that transient alone raised the
    loader's peak memory by ~75 MB. Composing here over the C parser's events
    (same events, same tags, same errors) keeps one compact mark per node, and
    is no slower: the compaction walk over the tree goes away."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Composing recurses in Python now: a hostile file nested thousands of
        # levels deep is refused here, as _check_shape would, before the
        # interpreter's recursion limit turns it into a traceback.
        event = self.peek_event()  # type: ignore[attr-defined]  # the parser's, mixed in
        if self._depth >= MAX_DEPTH and not isinstance(event, yaml.AliasEvent):
            raise _shape_error_at(
                Position(event.start_mark.line + 1, event.start_mark.column + 1),
                f"YAML nested more than {MAX_DEPTH} levels deep",
                "desired-state files need far fewer levels; flatten the structure",
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        mark = node.start_mark if node is not None else None
        # A compact mark already: an alias of a node built before.
        if node is not None and mark is not None and type(mark) is not _Mark:
            node.start_mark = _Mark(mark.line, mark.column)
            node.end_mark = None
        return node


if getattr(yaml, "__with_libyaml__", False):
    # The C parser is an order of magnitude faster on big generated files.
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _Loader(_Composing, CParser, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Loader(_Composing, yaml.SafeLoader):  # type: ignore[no-redef]
        pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    value = node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(value)
    return []


def _check_shape(root: yaml.Node | None) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``, alias expansion beyond
    ``MAX_ALIAS_NODES`` and recursive aliases, before anything expands the graph.

    One iterative walk; a node met again after it was finished is an alias, and
    its expanded size (memoised per node) is what expanding it would add."""
    size: dict[int, int] = {}
    """Expanded node count of each finished node, by id."""
    open_nodes: set[int] = set()
    added = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)] if root is not None else []
    while stack:
        node, level, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        if key in size:
            added += size[key]
            if added > MAX_ALIAS_NODES:
                raise _shape_error(
                    node,
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes",
                    "aliases of this anchor (and of anchors inside it) multiply; write the "
                    "values out or use fewer aliases",
                )
            continue
        if key in open_nodes:
            raise _shape_error(
                node, "YAML alias refers to a node that contains it (a recursive alias)",
                "an alias may only refer to an anchor that is complete",
            )
        if level > MAX_DEPTH:
            raise _shape_error(
                node, f"YAML nested more than {MAX_DEPTH} levels deep",
                "desired-state files need far fewer levels; flatten the structure",
            )
        if node.tag != _STR_TAG:  # most nodes are strings: no call for them
            _check_scalar(node)
        open_nodes.add(key)
        stack.append((node, level, True))
        stack.extend((child, level + 1, False) for child in _children(node))


def _check_scalar(node: yaml.Node) -> None:
    tag = node.tag
    if tag not in _PLAIN_TAGS:
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise _shape_error(node, f"YAML tag `{shown}` is not supported", _TAG_HINT)
    if tag == _INT_TAG and len(node.value) > MAX_INT_CHARS:
        raise _shape_error(
            node, f"an integer of {len(node.value):,} characters is too long (at most"
                  f" {MAX_INT_CHARS:,})", "quote it to make it a string")
    if tag == _FLOAT_TAG and not _finite(node.value):
        raise _shape_error(
            node, f"`{node.value}` is not a finite number",
            "JSON, which CCE takes, has no infinity or NaN: write a number, or quote it to"
            " make it a string")


def _finite(text: str) -> bool:
    plain = text.replace("_", "").lower()
    if plain.lstrip("+-") in (".inf", ".nan"):
        return False
    try:
        return math.isfinite(float(plain))
    except ValueError:
        return True  # sexagesimal (190:20:30.15): always finite


def _shape_error(node: yaml.Node, message: str, hint: str) -> YamlSyntaxError:
    return YamlSyntaxError(message, position_of(node), hint=hint)


def _shape_error_at(at: Position, message: str, hint: str) -> YamlSyntaxError:
    return YamlSyntaxError(message, at, hint=hint)


def compose(text: str) -> yaml.Node | None:
    """Parse one YAML document into nodes (``None`` for an empty document).

    Raises ``YamlSyntaxError`` with the position of the problem.
    """
    loader = _Loader(text)
    try:
        if not loader.check_node():
            return None
        node = loader.get_node()
        _check_shape(node)
        if loader.check_node():
            extra = loader.get_node()
            raise YamlSyntaxError(
                "a file holds one YAML document; found a second one",
                position_of(extra) if extra is not None else None,
                hint="put each document in its own file, or remove the `---` line",
            )
        return node
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = Position(mark.line + 1, mark.column + 1) if mark else None
        context_at = None
        if err.context_mark is not None and err.problem_mark is not None:
            context_at = Position(err.context_mark.line + 1, err.context_mark.column + 1)
        problem = err.problem or err.context or "invalid YAML"
        raise YamlSyntaxError(
            f"YAML syntax error: {problem}",
            at,
            context=(err.context or "") if err.problem else "",
            context_at=context_at,
        ) from None
    except yaml.YAMLError as err:
        raise YamlSyntaxError(f"YAML error: {err}", None) from None
    finally:
        loader.dispose()


class _Converter:
    """Node tree → plain data (dict/list/str/int/float/bool/None)."""

    def __init__(self) -> None:
        self._constructor = yaml.SafeLoader("")
        self.duplicates: list[DuplicateKey] = []

    def convert(self, node: yaml.Node, path: KeyPath = ()) -> Any:
        # Hot on big generated files: plain strings and mappings skip the generic machinery.
        if type(node) is yaml.ScalarNode:
            if node.tag in (_STR_TAG, _VALUE_TAG):  # `=` alone: PyYAML builds nothing for it
                return node.value
            return self._scalar(node)
        if isinstance(node, yaml.MappingNode):
            if any(key.tag == _MERGE_TAG for key, _ in node.value):
                self._constructor.flatten_mapping(node)  # resolve `<<` merge keys
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = key_text(key_node)
                if key in result:
                    self._duplicate(node, key_node, key, path)
                    continue
                result[key] = self.convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def dispose(self) -> None:
        self._constructor.constructed_objects.clear()
        self._constructor.dispose()

    def _scalar(self, node: yaml.Node) -> Any:
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, datetime.date | bytes):
            # Dates and binary have no JSON form: keep what the user wrote.
            return str(node.value)
        return value

    def _duplicate(self, mapping: yaml.Node, key_node: yaml.Node, key: str, path: KeyPath) -> None:
        first = next(k for k, _ in mapping.value if key_text(k) == key)
        self.duplicates.append(
            DuplicateKey((*path, key), position_of(key_node), position_of(first))
        )


def key_text(node: yaml.Node) -> str:
    """A mapping key as text (keys are names here; `1.30:` stays "1.30")."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return yaml.serialize(node).strip()


def to_data(node: yaml.Node) -> tuple[Any, list[DuplicateKey]]:
    converter = _Converter()
    try:
        return converter.convert(node), converter.duplicates
    finally:
        # The constructor's loader refers to itself (its parser state is a bound
        # method), and it keeps every non-string scalar node it built: a cycle
        # the paused collector (paused_gc) would free only after the load.
        converter.dispose()


class NodeFinder:
    """Looks nodes up by key path; each mapping is indexed on first use, so
    placing thousands of diagnostics or locations in a big file stays linear."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root
        self._index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def find(self, path: KeyPath) -> tuple[yaml.Node | None, yaml.Node | None]:
        """The (key node, value node) at ``path``; the deepest existing ancestor when missing.

        For a list item the key node is ``None``. Used to place diagnostics,
        so it favours "somewhere close" over failing.
        """
        key: yaml.Node | None = None
        node = self.root
        for part in path:
            child = self._child(node, part)
            if child is None:
                break
            key, node = child
        return key, node

    def release(self, path: KeyPath) -> None:
        """Forget the subtree at ``path`` (a mapping's key): its entry in the
        parent mapping is replaced by an empty node at the same place, so its
        nodes and indexes become garbage unless an alias shares them (then they
        stay as they are). For a caller done placing anything in it; a later
        ``find`` into it lands on the empty node. Why: a 10,000-cluster file's
        node tree and indexes are a third of the loader's peak memory, and each
        cluster's part is done with once its spec is built."""
        if not path:
            return
        _, parent = self.find(path[:-1])
        if not isinstance(parent, yaml.MappingNode):
            return
        key = str(path[-1])
        for position, (key_node, value_node) in enumerate(parent.value):
            if key_text(key_node) != key:
                continue
            if not isinstance(value_node, yaml.MappingNode | yaml.SequenceNode):
                return
            stack: list[yaml.Node] = [value_node]
            while stack:
                current = stack.pop()
                self._index.pop(id(current), None)  # ids are reused once a node is freed
                stack.extend(_children(current))
            empty = type(value_node)(value_node.tag, [], value_node.start_mark,
                                     value_node.end_mark)
            parent.value[position] = (key_node, empty)
            index = self._index.get(id(parent))
            found = index.get(key) if index is not None else None
            if index is not None and found is not None and found[0] is key_node:
                index[key] = (key_node, empty)
            return

    def _child(
        self, node: yaml.Node | None, part: PathPart
    ) -> tuple[yaml.Node | None, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            index = self._index.get(id(node))
            if index is None:
                index = {}
                for key_node, value_node in node.value:
                    index.setdefault(key_text(key_node), (key_node, value_node))
                self._index[id(node)] = index
            return index.get(str(part))
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            return None, node.value[part]
        return None


def mapping_items(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """(key text, key node, value node) of a mapping node; nothing for other nodes."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield key_text(key_node), key_node, value_node
