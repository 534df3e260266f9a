"""Full values (docs/planning.md): layers, flavors, derived keys, ignore_changes, provenance."""

from __future__ import annotations

from engine_builders import (
    CLUSTER_ID,
    PROJECT_ID,
    autoscaler_template,
    cluster,
    coredns_template,
    coredns_values,
    spec,
)

from reconciler.engine import full_values
from reconciler.engine.values import template_defaults
from reconciler.model.live import TemplateVersion


def coredns(version: str = "1.30.33") -> TemplateVersion:
    found = coredns_template().version(version)
    assert found is not None
    return found


def test_install_is_template_defaults_with_first_flavor() -> None:
    result = full_values(coredns(), None, spec("coredns"), cluster(), PROJECT_ID)
    assert result.values == coredns_values()
    assert result.flavor == "2500"
    assert set(result.provenance.values()) == {"default"}
    assert result.provenance["flavor.resources"] == "default"  # lists are leaves


def test_live_wins_over_defaults_and_desired_wins_over_live() -> None:
    live = coredns_values(cache_ttl=60, upstream_nameservers=["1.1.1.1"])
    wanted = spec("coredns", values={"custom": {"upstream_nameservers": ["10.0.0.2"]}})
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["cache_ttl"] == 60
    assert result.values["custom"]["upstream_nameservers"] == ["10.0.0.2"]
    assert result.provenance["custom.cache_ttl"] == "live"
    assert result.provenance["custom.upstream_nameservers"] == "desired"


def test_new_version_defaults_fill_keys_the_live_instance_lacks() -> None:
    live = coredns_values()
    del live["custom"]["multiAZEnabled"]
    result = full_values(coredns(), live, spec("coredns"), cluster(), PROJECT_ID)
    assert result.values["custom"]["multiAZEnabled"] is False
    assert result.provenance["custom.multiAZEnabled"] == "default"
    assert result.provenance["custom.cache_ttl"] == "live"


def test_lists_are_replaced_not_merged() -> None:
    live = coredns_values(upstream_nameservers=["1.1.1.1", "8.8.8.8"])
    wanted = spec("coredns", values={"custom": {"upstream_nameservers": ["10.0.0.2"]}})
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["upstream_nameservers"] == ["10.0.0.2"]


def test_maps_merge_key_by_key_with_dotted_keys_kept_whole() -> None:
    live = coredns_values(stub_domains={"corp.local": ["10.1.0.53"]})
    wanted = spec("coredns", values={"custom": {"stub_domains": {"acme.local": ["10.0.0.53"]}}})
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["stub_domains"] == {
        "corp.local": ["10.1.0.53"], "acme.local": ["10.0.0.53"]}
    assert result.provenance["custom.stub_domains.acme.local"] == "desired"
    assert result.provenance["custom.stub_domains.corp.local"] == "live"
    assert "custom.stub_domains" not in result.provenance  # no longer a leaf


def test_choosing_a_flavor_replaces_the_live_flavor_map() -> None:
    live = coredns_values()
    live["flavor"]["console_tweak"] = True
    wanted = spec("coredns", flavor="5000", values={"flavor": {"replicas": 3}})
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["flavor"]["name"] == 5000
    assert result.values["flavor"]["replicas"] == 3
    assert result.values["flavor"]["resources"][0]["limitsCpu"] == "1000m"
    assert "console_tweak" not in result.values["flavor"]
    assert "flavor.console_tweak" not in result.provenance
    assert result.provenance["flavor.name"] == "desired"


def test_without_a_flavor_choice_the_live_preset_is_the_base() -> None:
    live = coredns_values()
    live["flavor"] = {"name": 5000, "replicas": 4}
    result = full_values(coredns(), live, spec("coredns"), cluster(), PROJECT_ID)
    assert result.flavor == "5000"
    # preset 5000 is the base, live keys win over it
    assert result.values["flavor"]["replicas"] == 4
    assert result.values["flavor"]["resources"][0]["limitsCpu"] == "1000m"


def test_derived_keys_only_where_the_template_has_them() -> None:
    version = autoscaler_template().version("1.29.17")
    assert version is not None
    wanted = spec("autoscaler", values={"custom": {"cluster_id": "typo-in-file"}})
    result = full_values(version, None, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["cluster_id"] == CLUSTER_ID
    assert result.values["custom"]["tenant_id"] == PROJECT_ID
    assert "project_id" not in result.values["custom"]
    assert result.provenance["custom.cluster_id"] == "derived"
    coredns_result = full_values(coredns(), None, spec("coredns"), cluster(), PROJECT_ID)
    assert "cluster_id" not in coredns_result.values["custom"]


def test_ignore_changes_keeps_the_live_value_over_desired() -> None:
    live = coredns_values(cache_ttl=99)
    wanted = spec("coredns", values={"custom": {"cache_ttl": 5}},
                  ignore_changes=("custom.cache_ttl",))
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["cache_ttl"] == 99
    assert result.provenance["custom.cache_ttl"] == "live"


def test_ignore_changes_of_a_dotted_key_resolves_against_live() -> None:
    live = coredns_values(stub_domains={"acme.local": ["10.9.9.9"]})
    wanted = spec("coredns", values={"custom": {"stub_domains": {"acme.local": ["10.0.0.53"]}}},
                  ignore_changes=("custom.stub_domains.acme.local",))
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["stub_domains"] == {"acme.local": ["10.9.9.9"]}


def test_ignore_changes_of_a_list_element_neither_leaks_nor_mutates() -> None:
    live = coredns_values(upstream_nameservers=["10.0.0.1", "10.0.0.2"])
    before = repr(live)
    wanted = spec("coredns", values={"custom": {"upstream_nameservers": ["9.9.9.9", "8.8.8.8"]}},
                  ignore_changes=("custom.upstream_nameservers[1]",))
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["upstream_nameservers"] == ["9.9.9.9", "10.0.0.2"]
    assert repr(live) == before
    short = spec("coredns", values={"custom": {"upstream_nameservers": ["9.9.9.9"]}},
                 ignore_changes=("custom.upstream_nameservers[1]",))
    result = full_values(coredns(), live, short, cluster(), PROJECT_ID)
    # the element isn't in the desired list: the whole live list is kept
    assert result.values["custom"]["upstream_nameservers"] == ["10.0.0.1", "10.0.0.2"]
    assert repr(live) == before


def test_empty_live_map_is_kept_but_never_overrides() -> None:
    live = coredns_values(tolerations={})
    result = full_values(coredns(), live, spec("coredns"), cluster(), PROJECT_ID)
    assert result.values["custom"]["tolerations"] == {}
    assert result.provenance["custom.tolerations"] == "live"
    assert result.values["custom"]["stub_domains"] == ""


def test_desired_numeric_string_takes_the_template_type() -> None:
    wanted = spec("coredns", values={"custom": {"cache_ttl": "45"}})
    result = full_values(coredns(), None, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["cache_ttl"] == 45


def test_empty_desired_map_changes_nothing() -> None:
    live = coredns_values(stub_domains={"corp.local": ["10.1.0.53"]})
    wanted = spec("coredns", values={"custom": {"stub_domains": {}}})
    result = full_values(coredns(), live, wanted, cluster(), PROJECT_ID)
    assert result.values["custom"]["stub_domains"] == {"corp.local": ["10.1.0.53"]}


def test_inputs_are_not_mutated() -> None:
    version = coredns()
    before_input = repr(version.input)
    live = coredns_values()
    before_live = repr(live)
    result = full_values(version, live, spec("coredns", flavor="5000"), cluster(), PROJECT_ID)
    result.values["flavor"]["resources"][0]["limitsCpu"] = "9"
    result.values["basic"]["platform"] = "x"
    assert repr(version.input) == before_input
    assert repr(live) == before_live


def test_provenance_names_exactly_the_leaves() -> None:
    live = coredns_values(stub_domains={"corp.local": ["10.1.0.53"]})
    result = full_values(coredns(), live, spec("coredns", flavor="5000"), cluster(), PROJECT_ID)
    from reconciler.model.valuepaths import leaves

    assert set(result.provenance) == {path for path, _ in leaves(result.values, into_lists=False)}


def test_template_defaults_picks_the_named_preset() -> None:
    defaults = template_defaults(coredns(), "5000")
    assert defaults["flavor"]["name"] == 5000
    assert template_defaults(coredns(), None)["flavor"]["name"] == 2500


def _versioned(version: str, image: str, replicas_default: int = 2) -> TemplateVersion:
    return TemplateVersion(
        version=version,
        input={
            "basic": {"image_version": image, "swr_addr": "swr.example/hwofficial"},
            "parameters": {"custom": {"cache_ttl": 30, "replicas_hint": replicas_default}},
        },
    )


def test_upgrade_replaces_old_version_defaults_but_keeps_customisations() -> None:
    old = _versioned("1.0.0", "v1.0.0")
    new = _versioned("2.0.0", "v2.0.0", replicas_default=3)
    live = {
        "basic": {"image_version": "v1.0.0", "swr_addr": "swr.example/hwofficial"},
        "custom": {"cache_ttl": 60, "replicas_hint": 2},  # cache_ttl edited in the console
    }
    result = full_values(new, live, spec("coredns"), cluster(), PROJECT_ID, live_version=old)
    assert result.values["basic"]["image_version"] == "v2.0.0"
    assert result.provenance["basic.image_version"] == "default"
    assert result.values["custom"]["replicas_hint"] == 3  # old default gives way
    assert result.values["custom"]["cache_ttl"] == 60  # a customisation survives
    assert result.provenance["custom.cache_ttl"] == "live"


def test_same_version_keeps_every_live_value() -> None:
    version = _versioned("1.0.0", "v1.0.0")
    live = {"basic": {"image_version": "v0.9-hotfix"}, "custom": {"cache_ttl": 30}}
    result = full_values(version, live, spec("coredns"), cluster(), PROJECT_ID,
                         live_version=version)
    assert result.values["basic"]["image_version"] == "v0.9-hotfix"


def test_ignored_path_is_kept_from_live_even_when_it_equals_the_old_default() -> None:
    old = _versioned("1.0.0", "v1.0.0")
    new = _versioned("2.0.0", "v2.0.0")
    live = {"basic": {"image_version": "v1.0.0"}, "custom": {"cache_ttl": 30}}
    wanted = spec("coredns", ignore_changes=("basic.image_version",))
    result = full_values(new, live, wanted, cluster(), PROJECT_ID, live_version=old)
    assert result.values["basic"]["image_version"] == "v1.0.0"
