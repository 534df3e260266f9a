"""Version constraints (model/versions.py): what each form allows, and what it refuses to parse."""

from __future__ import annotations

import pytest

from reconciler.model.versions import (
    ConstraintError,
    is_constraint,
    newest_allowed,
    parse_constraint,
    version_key,
)

VERSIONS = ["1.28.9", "1.29.0", "1.30.0", "1.30.2", "1.30.15", "1.31.1", "2.0.0"]


@pytest.mark.parametrize(("text", "allowed"), [
    ("latest", VERSIONS),
    ("~1.30", ["1.30.0", "1.30.2", "1.30.15"]),
    ("~1.30.2", ["1.30.2", "1.30.15"]),
    ("~1", ["1.28.9", "1.29.0", "1.30.0", "1.30.2", "1.30.15", "1.31.1"]),
    (">=1.30,<1.31", ["1.30.0", "1.30.2", "1.30.15"]),
    (">1.30.2", ["1.30.15", "1.31.1", "2.0.0"]),
    ("<=1.29", ["1.28.9", "1.29.0"]),
    ("<1.30", ["1.28.9", "1.29.0"]),
    ("==1.30.2", ["1.30.2"]),
    ("=1.30.2", ["1.30.2"]),
    ("==1.30", ["1.30.0"]),
    ("!=1.30.15, >= 1.30, < 2", ["1.30.0", "1.30.2", "1.31.1"]),
    (" ~ 1.30 ", ["1.30.0", "1.30.2", "1.30.15"]),
])
def test_allows(text: str, allowed: list[str]) -> None:
    constraint = parse_constraint(text)
    assert [v for v in VERSIONS if constraint.allows(v)] == allowed
    assert str(constraint) == text


def test_versions_compare_numerically_part_by_part() -> None:
    # 1.9 < 1.10 as numbers (a string comparison says the opposite).
    assert parse_constraint(">1.9").allows("1.10.0")
    assert not parse_constraint("<1.9").allows("1.10.0")
    assert version_key("1.30") == version_key("1.30.0")
    assert version_key("1.30.4") < version_key("1.30.33")
    assert version_key("1.2.3") < version_key("1.2.3-beta")


def test_newest_allowed() -> None:
    assert newest_allowed(parse_constraint("~1.30"), VERSIONS) == "1.30.15"
    assert newest_allowed(parse_constraint("latest"), reversed(VERSIONS)) == "2.0.0"
    assert newest_allowed(parse_constraint(">=3"), VERSIONS) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("latest", True), ("~1.30", True), (">=1.30,<1.31", True), ("<2", True), ("1.30.*", True),
    ("1.30 ", False), (" ~1 ", True), ("1.30.15", False), ("1.30", False), ("v1.2.3-r0", False),
    ("lat", False),
])
def test_is_constraint(text: str, expected: bool) -> None:
    assert is_constraint(text) is expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("~", "`` is not a version"),
    ("~1.x", "`1.x` is not a version"),
    (">=1.30,", "empty part"),
    (",<2", "empty part"),
    (">>1", "`>1` is not a version"),
    ("=>1.30", "`>1.30` is not a version"),
    ("1.30.*", "cannot read `1.30.*`"),
    ("~>1.30", "`>1.30` is not a version"),
    ("latest,<2", "cannot read `latest`"),
    (">= v1.30", "`v1.30` is not a version"),
])
def test_bad_constraints_say_what_is_valid(text: str, fragment: str) -> None:
    with pytest.raises(ConstraintError) as raised:
        parse_constraint(text)
    message = str(raised.value)
    assert fragment in message
    assert "`latest`" in message and "`~1.30`" in message and ">=1.30,<1.31" in message
