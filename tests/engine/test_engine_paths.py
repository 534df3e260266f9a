"""Wildcard value paths (``*`` for one key, ``[*]`` for every list item) over real trees."""

from __future__ import annotations

import pytest

from reconciler.engine.paths import expand
from reconciler.model.valuepaths import format_path

TREE = {"custom": {
    "tolerations": [{"key": "a", "tolerationSeconds": 60}, {"key": "b"}],
    "stub_domains": {"acme.local": ["10.0.0.53"], "corp.local": ["10.9.0.53"]},
    "cache_ttl": 30,
}}


@pytest.mark.parametrize(("pattern", "expected"), [
    ("custom.cache_ttl", ["custom.cache_ttl"]),
    ("custom.stub_domains.acme.local", ["custom.stub_domains.acme.local"]),
    ("custom.tolerations[1].key", ["custom.tolerations[1].key"]),
    ("custom.tolerations[*].tolerationSeconds", ["custom.tolerations[0].tolerationSeconds"]),
    ("custom.tolerations[*].key", ["custom.tolerations[0].key", "custom.tolerations[1].key"]),
    ("custom.tolerations[*]", ["custom.tolerations[0]", "custom.tolerations[1]"]),
    ("custom.stub_domains.*", ["custom.stub_domains.acme.local", "custom.stub_domains.corp.local"]),
    ("*.cache_ttl", ["custom.cache_ttl"]),
    ("custom.*[*].key", ["custom.tolerations[0].key", "custom.tolerations[1].key"]),
    ("custom.nothing", []),
    ("custom.cache_ttl[*]", []),
    ("custom.tolerations.*", []),
    ("custom.tolerations[5]", []),
])
def test_expand(pattern: str, expected: list[str]) -> None:
    assert [format_path(s) for s in expand(TREE, pattern)] == expected
