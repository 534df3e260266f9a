"""Declared value keys against the template's defaults (engine/valuekeys.py)."""

from __future__ import annotations

from reconciler.engine.valuekeys import unknown_keys
from reconciler.model.live import TemplateVersion

DEFAULTS = {
    "basic": {"image_version": "1.29.17", "swr_addr": "swr"},
    "custom": {
        "maxNodesTotal": 1000,
        "scaleDownEnabled": True,
        "stub_domains": {},
        "feature_gates": "",
        "placeholder": None,
        "npc": {"maxTaintedNode": "10%"},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
    },
    "flavor": {"name": "Single", "replicas": 1},
}


def _paths(desired: dict, allow: tuple[str, ...] = ()) -> list[str]:
    return [u.path for u in unknown_keys(desired, DEFAULTS, allow)]


def test_a_typo_is_unknown_with_the_key_that_was_meant() -> None:
    [found] = unknown_keys({"custom": {"maxNodeTotal": 80}}, DEFAULTS)
    assert (found.path, found.key, found.parent) == ("custom.maxNodeTotal", "maxNodeTotal",
                                                     "custom")
    assert found.close[0] == "maxNodesTotal"
    assert "scaleDownEnabled" in found.known


def test_known_keys_at_every_depth_pass() -> None:
    assert _paths({"custom": {"maxNodesTotal": 5, "npc": {"maxTaintedNode": "5%"}},
                   "flavor": {"replicas": 2}, "basic": {"swr_addr": "x"}}) == []


def test_nested_and_flavor_keys_are_checked() -> None:
    assert _paths({"custom": {"npc": {"maxTainted": "5%"}}, "flavor": {"replica": 2}}) == [
        "custom.npc.maxTainted", "flavor.replica"]


def test_below_an_empty_map_a_placeholder_or_inside_a_list_anything_goes() -> None:
    assert _paths({"custom": {
        "stub_domains": {"acme.local": ["10.0.0.53"]},
        "feature_gates": {"anything": True},
        "placeholder": {"deep": {"er": 1}},
        "tolerations": [{"key": "x", "operator": "Equal", "value": "y"}],
    }}) == []


def test_a_case_slip_is_still_suggested() -> None:
    [found] = unknown_keys({"custom": {"MAXNODESTOTAL": 1}}, DEFAULTS)
    assert found.close == ("maxNodesTotal",)


def test_allow_patterns_use_the_ignore_changes_wildcards() -> None:
    desired = {"custom": {"extraArgs": {"v": "2", "log": {"json": True}}, "other": 1,
                          "tolerations": [{"x": 1}]}}
    assert _paths(desired) == ["custom.extraArgs", "custom.other"]
    assert _paths(desired, ("custom.extraArgs.*",)) == ["custom.other"]
    assert _paths(desired, ("custom.extraArgs",)) == ["custom.other"]
    assert _paths(desired, ("custom.*",)) == []
    assert _paths({"custom": {"extraArgs": {}}}, ("custom.extraArgs.*",)) == []
    # a pattern below the unknown key does not allow the key itself
    assert _paths(desired, ("custom.extraArgs.v",)) == ["custom.extraArgs", "custom.other"]
    assert _paths(desired, ("custom.others",)) == ["custom.extraArgs", "custom.other"]


def test_the_answer_is_memoised_per_version_and_key_shape_not_per_cluster() -> None:
    version = TemplateVersion(version="1.0.0", input={})
    first = unknown_keys({"custom": {"maxNodeTotal": 80}}, DEFAULTS, source=version)
    # another cluster's value, the same key paths: the very same answer object
    again = unknown_keys({"custom": {"maxNodeTotal": 12}}, DEFAULTS, source=version)
    assert again is first
    other_shape = unknown_keys({"custom": {"maxNodeTotal": 80, "x": 1}}, DEFAULTS,
                               source=version)
    assert other_shape is not first and len(other_shape) == 2
    other_version = TemplateVersion(version="1.0.1", input={})
    assert unknown_keys({"custom": {"maxNodeTotal": 80}}, {"custom": {"maxNodeTotal": 1}},
                        source=other_version) == ()
