"""JsonInterner: equal trees come back as one object; unequal ones never do."""

from __future__ import annotations

import json

from reconciler.cloud.sharing import JsonInterner


def test_equal_subtrees_are_one_object_and_values_are_kept() -> None:
    interner = JsonInterner()
    text = '{"basic": {"a": [1, {"b": null}]}, "custom": {"cluster_id": "%s"}}'
    first = interner.share(json.loads(text % "one"))
    second = interner.share(json.loads(text % "two"))
    assert first == json.loads(text % "one") and second == json.loads(text % "two")
    assert first["basic"] is second["basic"]
    assert first["custom"] is not second["custom"]
    assert list(first) == ["basic", "custom"]


def test_numbers_and_booleans_that_compare_equal_stay_apart() -> None:
    interner = JsonInterner()
    trees = [interner.share({"x": v}) for v in (1, 1.0, True, "1", None, [1])]
    assert [type(t["x"]) for t in trees] == [int, float, bool, str, type(None), list]
    assert len({id(t) for t in trees}) == len(trees)
