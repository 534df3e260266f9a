"""Normalisation and the per-key diff (docs/planning.md), sensitivity (docs/desired-state.md)."""

from __future__ import annotations

import json

from engine_builders import coredns_template, coredns_values

from reconciler.engine import diff_values, normalise, secrets
from reconciler.engine.values import template_defaults
from reconciler.model.plan import FieldChange, FieldChangeKind
from reconciler.model.sensitive import is_redacted, sensitive_hash

ADDED, REMOVED, CHANGED = FieldChangeKind.ADDED, FieldChangeKind.REMOVED, FieldChangeKind.CHANGED


def schema() -> dict[str, object]:
    version = coredns_template().version("1.30.33")
    assert version is not None
    return template_defaults(version, "2500")


def diff(live: dict[str, object], full: dict[str, object], *, ignore: tuple[str, ...] = (),
         sensitive: tuple[str, ...] = (), salt: str = "") -> tuple[FieldChange, ...]:
    return diff_values(live, full, ignore=ignore, sensitive=secrets.rules(declared=sensitive),
                       schema=schema(), salt=salt)


def summary(changes: tuple[FieldChange, ...]) -> list[tuple[str, str, object, object]]:
    return [(c.path, c.kind.value, c.before, c.after) for c in changes]


def test_normalise_sorts_keys_drops_empty_maps_and_coerces_by_schema() -> None:
    shape = {"custom": {"cache_ttl": 1, "multiAZEnabled": False, "name": "x"}}
    got = normalise({"custom": {"name": 7, "multiAZEnabled": "True", "cache_ttl": "30",
                                "tolerations": {}, "nested": {"empty": {}}}}, shape)
    assert got == {"custom": {"cache_ttl": 30, "multiAZEnabled": True, "name": "7"}}
    assert list(got["custom"]) == ["cache_ttl", "multiAZEnabled", "name"]


def test_normalise_leaves_unconvertible_and_unschematised_values_alone() -> None:
    shape = {"n": 1, "b": True}
    assert normalise({"n": "fifty", "b": "yes", "free": "30"}, shape) == {
        "b": "yes", "free": "30", "n": "fifty"}
    assert normalise({"n": "nan"}, shape) == {"n": "nan"}


def test_normalise_applies_list_element_schema() -> None:
    shape = {"resources": [{"replicas": 1}]}
    assert normalise({"resources": [{"replicas": "2"}, {"replicas": "3"}]}, shape) == {
        "resources": [{"replicas": 2}, {"replicas": 3}]}


def test_unchanged_values_in_another_spelling_produce_no_change() -> None:
    live = coredns_values(cache_ttl="30", multiAZEnabled="false", tolerations={})
    live["flavor"]["replicas"] = "2"
    live = json.loads(json.dumps(live, sort_keys=True))  # another key order
    assert diff(live, coredns_values()) == ()


def test_changed_leaf_reports_its_path_and_both_values() -> None:
    full = coredns_values(cache_ttl=60)
    assert summary(diff(coredns_values(), full)) == [("custom.cache_ttl", "changed", 30, 60)]


def test_added_map_is_reported_per_leaf_with_dotted_keys() -> None:
    live = coredns_values()
    del live["custom"]["stub_domains"]
    full = coredns_values(stub_domains={"acme.local": ["10.0.0.53"], "corp.local": ["10.1.0.1"]})
    assert summary(diff(live, full)) == [
        ("custom.stub_domains.acme.local", "added", None, ["10.0.0.53"]),
        ("custom.stub_domains.corp.local", "added", None, ["10.1.0.1"]),
    ]


def test_type_change_from_placeholder_is_one_change() -> None:
    full = coredns_values(stub_domains={"acme.local": ["10.0.0.53"]})
    assert summary(diff(coredns_values(), full)) == [
        ("custom.stub_domains", "changed", "", {"acme.local": ["10.0.0.53"]})]


def test_list_elements_are_indexed() -> None:
    live = coredns_values(upstream_nameservers=["10.0.0.2"])
    full = coredns_values(upstream_nameservers=["10.0.0.3", "10.0.0.4"])
    full["flavor"]["resources"][0]["limitsCpu"] = "700m"
    assert summary(diff(live, full)) == [
        ("custom.upstream_nameservers[0]", "changed", "10.0.0.2", "10.0.0.3"),
        ("custom.upstream_nameservers[1]", "added", None, "10.0.0.4"),
        ("flavor.resources[0].limitsCpu", "changed", "500m", "700m"),
    ]


def test_removed_keys_are_reported() -> None:
    live = coredns_values(upstream_nameservers=["a", "b"])
    full = coredns_values(upstream_nameservers=["a"])
    assert summary(diff(live, full)) == [("custom.upstream_nameservers[1]", "removed", "b", None)]


def test_install_diff_is_every_leaf_added() -> None:
    changes = diff({}, coredns_values())
    assert {c.kind for c in changes} == {ADDED}
    assert "flavor.resources" in {c.path for c in changes}  # a list is one leaf
    assert "basic.cluster_ip" in {c.path for c in changes}


def test_ignore_changes_paths_are_never_diffed() -> None:
    live = coredns_values(cache_ttl=99, stub_domains={"acme.local": ["1"], "b.local": ["2"]})
    full = coredns_values(cache_ttl=5, stub_domains={"acme.local": ["3"], "b.local": ["4"]})
    changes = diff(live, full, ignore=("custom.cache_ttl", "custom.stub_domains.acme.local"))
    assert summary(changes) == [("custom.stub_domains.b.local[0]", "changed", "2", "4")]


def test_ignore_of_a_missing_path_is_harmless() -> None:
    assert diff(coredns_values(), coredns_values(), ignore=("custom.nope", "x[3]")) == ()


def test_declared_secret_changes_show_salted_hashes_only() -> None:
    live = coredns_values(upstream_nameservers="old-secret")
    full = coredns_values(upstream_nameservers="new-secret")
    (change,) = diff(live, full, sensitive=("custom.upstream_nameservers",), salt="s1")
    assert change.sensitive and change.kind is CHANGED
    assert change.before == sensitive_hash("old-secret", "s1")
    assert change.after == sensitive_hash("new-secret", "s1")
    assert "secret" not in repr(change).replace("(sensitive)", "")


def test_secret_looking_keys_are_redacted_without_declaration() -> None:
    live = coredns_values(api_token="t0")
    full = coredns_values(api_token="t1", password="p")
    changes = diff(live, full)
    assert [c.path for c in changes] == ["custom.api_token", "custom.password"]
    assert all(c.sensitive for c in changes)
    assert all(is_redacted(c.after) for c in changes)
    assert changes[1].before is None


def test_added_maps_in_lists_redact_only_their_secret_leaves() -> None:
    live = coredns_values(auths=[{"user": "u", "password": "a"}])
    full = coredns_values(auths=[{"user": "u", "password": "b"}, {"user": "v", "password": "c"}])
    changes = diff(live, full)
    assert [(c.path, c.sensitive) for c in changes] == [
        ("custom.auths[0].password", True),
        ("custom.auths[1].password", True),
        ("custom.auths[1].user", False),
    ]
    assert "'c'" not in repr(changes) and "'b'" not in repr(changes)


def test_a_list_holding_a_secret_is_redacted_whole() -> None:
    live = coredns_values(creds=[["a", {"token": "t0"}]])
    full = coredns_values(creds=[["a", {"token": "t1"}], ["b", {"token": "t2"}]])
    changes = diff(live, full)
    assert [(c.path, c.sensitive) for c in changes] == [
        ("custom.creds[0][1].token", True), ("custom.creds[1]", True)]
    assert "t2" not in repr(changes)


def test_same_secret_same_hash_different_secret_different_hash() -> None:
    one = diff({}, {"custom": {"password": "x"}}, salt="s")[0].after
    same = diff({}, {"custom": {"password": "x"}}, salt="s")[0].after
    other = diff({}, {"custom": {"password": "y"}}, salt="s")[0].after
    other_salt = diff({}, {"custom": {"password": "x"}}, salt="t")[0].after
    assert one == same
    assert len({one, other, other_salt}) == 3
