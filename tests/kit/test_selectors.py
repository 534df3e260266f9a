"""kit/selectors (names, globs, kubectl selectors) and model/rollout.assign_waves."""

from __future__ import annotations

import pytest

from reconciler.kit.selectors import (
    PatternKind,
    SelectorError,
    is_selector,
    label_problem,
    parse_pattern,
    parse_selector,
)
from reconciler.model.rollout import Rollout, Wave, assign_waves

PROD_EU = {"env": "prod", "region": "eu", "tier": "gold", "gpu": "a100"}
PROD_US = {"env": "prod", "region": "us", "tier": "silver"}
STAGING = {"env": "staging", "region": "eu", "tier": "bronze"}
BARE: dict[str, str] = {}
CLUSTERS = {"prod-eu": PROD_EU, "prod-us": PROD_US, "staging-eu": STAGING, "bare": BARE}


def matching(text: str) -> list[str]:
    pattern = parse_pattern(text)
    return [name for name, labels in CLUSTERS.items() if pattern.matches(name, labels)]


@pytest.mark.parametrize(("text", "expected"), [
    ("env=prod", ["prod-eu", "prod-us"]),
    ("env==prod", ["prod-eu", "prod-us"]),
    ("env!=prod", ["staging-eu", "bare"]),          # no key satisfies != (Kubernetes)
    ("tier in (gold,silver)", ["prod-eu", "prod-us"]),
    ("tier in ( gold , silver )", ["prod-eu", "prod-us"]),
    ("tier notin (gold)", ["prod-us", "staging-eu", "bare"]),
    ("!gpu", ["prod-us", "staging-eu", "bare"]),
    ("gpu,env=prod", ["prod-eu"]),
    ("env=prod,region!=eu", ["prod-us"]),
    ("env=prod, tier in (gold,bronze), region=eu", ["prod-eu"]),
    ("env=", []),                                   # an empty value is a value
    ("prod-*", ["prod-eu", "prod-us"]),
    ("*-e?", ["prod-eu", "staging-eu"]),
    ("[ps]*-eu", ["prod-eu", "staging-eu"]),
    ("Prod-*", []),                                 # case-sensitive everywhere
    ("bare", ["bare"]),
    ("gpu", []),                                    # a bare word is a cluster name
])
def test_each_kind_matches(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("demo-prod", PatternKind.NAME), ("prod-*", PatternKind.GLOB),
    ("env=prod", PatternKind.SELECTOR), ("tier in (a)", PatternKind.SELECTOR),
    ("!gpu", PatternKind.SELECTOR), ("gpu", PatternKind.NAME),
])
def test_kinds(text: str, kind: PatternKind) -> None:
    assert parse_pattern(text).kind is kind
    assert is_selector(text) is (kind is PatternKind.SELECTOR)
    assert str(parse_pattern(text)) == text


def test_a_selector_prints_in_kubectl_syntax() -> None:
    assert str(parse_selector("env==prod , tier in (a, b),!gpu")) == "env=prod,tier in (a,b),!gpu"


@pytest.mark.parametrize(("text", "fragment"), [
    ("tier in (gold", "`(` without `)`"),
    ("tier in gold)", "`)` without `(`"),
    ("tier in ((a))", "nested parentheses"),
    ("env=prod,,tier=gold", "an empty requirement between commas"),
    ("tier in ()", "lists no values"),
    ("env=prod=eu", "cannot read `env=prod=eu`"),
    ("bad key=x", "cannot read `bad key=x`"),
    ("-env=prod", "`-env` is not a label key"),
    ("env=-prod", "`-prod` is not a label value"),
    (f"env={'x' * 64}", "is not a label value"),
    ("env=prod,", "an empty requirement between commas"),
])
def test_bad_selectors_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as raised:
        parse_pattern(text)
    assert fragment in str(raised.value)
    assert repr(text) in str(raised.value)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("env", "prod", None),
    ("example.com/team", "a.b_c-d", None),
    ("env", "", None),
    ("bad key", "x", "`bad key` is not a label key"),
    ("env", "-x", "`-x` is not a label value"),
    ("k" * 64, "x", "is not a label key"),
    ("Example.com/x", "x", "is not a label key"),   # the prefix is a lower-case DNS name
])
def test_label_problem(key: str, value: str, problem: str | None) -> None:
    found = label_problem(key, value)
    assert (found is None) if problem is None else (found is not None and problem in found)


LABELS = [(name, labels) for name, labels in CLUSTERS.items()]


def test_the_first_matching_wave_takes_a_cluster_and_the_rest_wave_the_others() -> None:
    rollout = Rollout((
        Wave("canary", ("staging-*",)),
        Wave("rest"),                               # catch-all, wherever it is written
        Wave("prod", ("env=prod", "prod-eu")),
        Wave("gold", ("tier=gold",)),               # prod-eu is taken by `prod` first
    ))
    assert assign_waves(rollout, LABELS) == {
        "prod-eu": "prod", "prod-us": "prod", "staging-eu": "canary", "bare": "rest"}
    assert rollout.wave("gold") is not None and rollout.wave("nope") is None


def test_without_a_catch_all_wave_unmatched_clusters_are_left_out() -> None:
    rollout = Rollout((Wave("prod", ("env=prod",)), Wave("eu", ("region in (eu)",))))
    assert assign_waves(rollout, LABELS) == {
        "prod-eu": "prod", "prod-us": "prod", "staging-eu": "eu"}
