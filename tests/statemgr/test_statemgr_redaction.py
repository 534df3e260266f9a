from __future__ import annotations

import pytest

from reconciler.model.sensitive import sensitive_hash
from reconciler.model.valuepaths import leaves
from reconciler.statemgr import ClearSecretError, assert_no_clear_secrets

HASHED = sensitive_hash("s3cret", "salt")


def test_leaf_paths_use_dots_and_list_indexes() -> None:
    values = {"custom": {"stub_domains": {"acme.local": ["10.0.0.1"]}, "n": 1}, "empty": {}}
    assert list(leaves(values)) == [
        ("custom.stub_domains.acme.local[0]", "10.0.0.1"),
        ("custom.n", 1),
        ("empty", {}),
    ]


@pytest.mark.parametrize(
    ("values", "paths"),
    [
        ({"custom": {"token": HASHED}}, ["custom.token"]),
        ({"custom": {"acme.local": {"key": HASHED}}}, ["custom.acme.local.key"]),
        ({"custom": {"tokens": [HASHED, HASHED]}}, ["custom.tokens"]),
        ({"custom": {"token": None}}, ["custom.token"]),
        ({"custom": {}}, ["custom.token"]),
        ({"custom": {"token": "clear but undeclared"}}, []),
    ],
)
def test_hashed_or_absent_sensitive_leaves_pass(
    values: dict[str, object], paths: list[str]
) -> None:
    assert_no_clear_secrets(values, paths)


@pytest.mark.parametrize(
    ("values", "paths", "leaf"),
    [
        ({"custom": {"token": "s3cret"}}, ["custom.token"], "custom.token"),
        (
            {"custom": {"acme.local": {"key": "s3cret"}}},
            ["custom.acme.local"],
            "custom.acme.local.key",
        ),
        ({"custom": {"tokens": [HASHED, "s3cret"]}}, ["custom.tokens"], "custom.tokens[1]"),
        ({"custom": {"port": 5432}}, ["custom.port"], "custom.port"),
    ],
)
def test_clear_sensitive_leaves_are_named_not_shown(
    values: dict[str, object], paths: list[str], leaf: str
) -> None:
    with pytest.raises(ClearSecretError) as caught:
        assert_no_clear_secrets(values, paths, where="prod/coredns")
    assert f"prod/coredns: the sensitive leaf {leaf!r}" in str(caught.value)
    assert "s3cret" not in str(caught.value) and "5432" not in str(caught.value)


def test_a_sibling_with_a_common_prefix_is_not_sensitive() -> None:
    assert_no_clear_secrets({"custom": {"tokenizer": "plain"}}, ["custom.token"])
