from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import valuepaths


@pytest.mark.parametrize(
    ("ancestor", "path", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", True),
        ("a.b", "a.b[0]", True),
        ("a.b", "a.bc", False),
        ("a.b[1]", "a.b[10]", False),
        ("a.b.c", "a.b", False),
        ("stub.acme.local", "stub.acme.local[0]", True),
    ],
)
def test_covers_is_whole_segments(ancestor: str, path: str, expected: bool) -> None:
    assert valuepaths.covers(ancestor, path) is expected


def test_join_and_format_spell_indexes_in_brackets() -> None:
    path = valuepaths.format_path(["custom", "list", 0, "acme.local"])
    assert path == "custom.list[0].acme.local"
    assert valuepaths.join("", "a") == "a"


def test_ancestry_is_innermost_first() -> None:
    assert list(valuepaths.ancestry("a.b[0].c")) == ["a.b[0].c", "a.b[0]", "a.b", "a"]


def test_leaves_descend_lists_unless_asked_not_to_and_keep_empty_containers() -> None:
    tree = {"a": {"b": [1, {"c": None}]}, "e": {}, "f": []}
    assert list(valuepaths.leaves(tree)) == [
        ("a.b[0]", 1), ("a.b[1].c", None), ("e", {}), ("f", [])]
    assert list(valuepaths.leaves(tree, into_lists=False)) == [
        ("a.b", [1, {"c": None}]), ("e", {}), ("f", [])]


def test_nodes_lists_parents_before_children() -> None:
    assert [p for p, _ in valuepaths.nodes({"a": {"b": [1]}})] == ["a", "a.b", "a.b[0]"]


def _mark(node: Any) -> str:
    return f"H({node!r})"


def test_hash_at_hashes_whole_nodes_keeps_none_and_shares_untouched_subtrees() -> None:
    untouched = {"x": 1}
    tree = {"s": {"token": "t", "none": None, "list": ["a", "b"]}, "other": untouched}
    out = valuepaths.hash_at(tree, ("s.token", "s.none", "s.list[1]"), _mark)
    assert out == {"s": {"token": "H('t')", "none": None, "list": ["a", "H('b')"]},
                   "other": untouched}
    assert out["other"] is untouched
    assert valuepaths.hash_at(tree, ("s",), _mark)["s"] == "H({'token': 't', 'none': None, " \
        "'list': ['a', 'b']})"
    assert valuepaths.hash_at("v", ("x",), _mark, "x") == "H('v')"
    assert valuepaths.hash_at(tree, (), _mark) is tree
