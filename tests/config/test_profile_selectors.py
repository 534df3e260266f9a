"""Profiles that choose their clusters (``profiles.NAME.clusters:``): merge order,
provenance through the real CLI against the in-process demo emulator, and errors
through ``reconciler validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.config import load_desired
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import InputError

HEAD = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
  endpoint: emulator://demo
  labels: {fleet: demo}
"""
# Declared in this order on purpose: `gold` (by selector) before `base` (by glob), so
# declaration order, not alphabetical order or list order, decides among chosen ones.
PROFILES = """\
profiles:
  gold:
    clusters: ["tier=gold"]
    addons:
      everest:
        values:
          custom:
            over_subscription: "60"
            number_of_reserved_disks: "8"
  base:
    clusters: ["demo-*"]
    addons:
      everest:
        version: 2.4.28
        values:
          custom:
            over_subscription: "70"
      metrics-server:
        version: 1.3.68
  pinned:
    clusters: [demo-legacy, "fleet=demo,tier notin (gold,silver)"]
    addons:
      npd:
        version: 1.19.1
  listed:
    addons:
      everest:
        values:
          custom:
            over_subscription: "90"
  edge:
    clusters: ["env=edge", "edge-*"]
    addons:
      npd:
        version: 1.19.1
"""
CLUSTERS = """\
clusters:
  demo-prod:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    labels: {env: prod, tier: gold}
    profiles: [listed]
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    labels: {env: staging, tier: silver}
    profiles: [gold]
    addons:
      everest:
        values:
          custom:
            number_of_reserved_disks: "7"
  demo-legacy:
    cluster_id: 8d2e6b3f-4368-11f0-ba56-0255ac100037
"""
TEXT = HEAD + PROFILES + CLUSTERS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(*files: Path, clusters: tuple[str, ...] = ()) -> DesiredState:
    return load_desired(list(files), clusters=clusters)


def cluster(desired: DesiredState, name: str) -> ClusterSpec:
    return next(c for c in desired.clusters if c.name == name)


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def validate(tmp_path: Path, text: str, *args: str) -> Result:
    file = write(tmp_path / "f.yaml", text)
    return CliRunner().invoke(cli, ["validate", str(file), *args])


# ---- merge order --------------------------------------------------------------------


def test_chosen_profiles_merge_in_declaration_order_then_the_list_then_own_addons(
        tmp_path: Path) -> None:
    desired = load(write(tmp_path / "f.yaml", TEXT))
    prod = cluster(desired, "demo-prod")
    # gold (selector) and base (glob) in the map's order, then the listed one
    assert prod.profiles == ("gold", "base", "listed")
    everest = prod.addon("everest")
    assert everest is not None and everest.version == "2.4.28"
    assert everest.values == {"custom": {"over_subscription": "90",
                                         "number_of_reserved_disks": "8"}}
    assert everest.profile_origins == {
        "version": "base", "values.custom.over_subscription": "listed",
        "values.custom.number_of_reserved_disks": "gold"}
    assert [a.name for a in prod.addons] == ["everest", "metrics-server"]


def test_a_profile_chosen_and_listed_counts_once_at_its_list_position(tmp_path: Path) -> None:
    # demo-staging is not gold but lists `gold`: it comes after the chosen `base`
    # (so gold's 60 wins over base's 70), then the cluster's own addons win over both.
    staging = cluster(load(write(tmp_path / "f.yaml", TEXT)), "demo-staging")
    assert staging.profiles == ("base", "gold")
    everest = staging.addon("everest")
    assert everest is not None
    assert everest.values == {"custom": {"over_subscription": "60",
                                         "number_of_reserved_disks": "7"}}
    assert everest.profile_origins == {"version": "base",
                                       "values.custom.over_subscription": "gold"}
    # a chosen profile that the cluster also lists moves, it is not merged twice
    prod_listing_gold = TEXT.replace("profiles: [listed]", "profiles: [listed, gold]")
    prod = cluster(load(write(tmp_path / "g.yaml", prod_listing_gold)), "demo-prod")
    assert prod.profiles == ("base", "listed", "gold")
    prod_everest = prod.addon("everest")
    assert prod_everest is not None
    assert prod_everest.values["custom"]["over_subscription"] == "60"


def test_names_and_selectors_see_defaults_labels(tmp_path: Path) -> None:
    desired = load(write(tmp_path / "f.yaml", TEXT))
    # demo-legacy has no labels of its own: `fleet=demo` comes from defaults.labels
    legacy = cluster(desired, "demo-legacy")
    assert legacy.profiles == ("base", "pinned")
    assert [a.name for a in legacy.addons] == ["everest", "metrics-server", "npd"]
    npd = legacy.addon("npd")
    assert npd is not None and npd.profile_origins == {"version": "pinned"}
    assert all("edge" not in c.profiles for c in desired.clusters)


def test_cluster_selection_comes_after_profiles_choose(tmp_path: Path) -> None:
    file = write(tmp_path / "f.yaml", TEXT)
    everyone = {c.name: c for c in load(file).clusters}
    for chosen in (("demo-prod",), ("env=staging",), ("tier notin (gold,silver)",)):
        for spec in load(file, clusters=chosen).clusters:
            assert spec == everyone[spec.name]


def test_profiles_in_one_file_choose_clusters_declared_in_another(tmp_path: Path) -> None:
    profiles = write(tmp_path / "a-profiles.yaml", HEAD + PROFILES + "clusters: {}\n")
    clusters = write(tmp_path / "b-clusters.yaml", HEAD + CLUSTERS)
    desired = load(profiles, clusters)
    assert cluster(desired, "demo-prod").profiles == ("gold", "base", "listed")
    assert cluster(desired, "demo-legacy").profiles == ("base", "pinned")


def test_validate_counts_each_profiles_clusters_and_shows_an_unmatched_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no template catalogue kept by an earlier plan
    result = validate(tmp_path, TEXT)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "1 file valid: 3 clusters, 7 add-ons\n"
        "profiles: gold (2 clusters), base (3 clusters), pinned (1 cluster), listed (1 cluster), "
        "edge (no cluster)\n"
        "values: not checked against the add-on templates: no plan has read them here yet "
        "(after one, validate checks value keys without network)\n")


# ---- provenance through plan ---------------------------------------------------------


def plan(tmp_path: Path, *args: str) -> Result:
    file = write(tmp_path / "fleet.yaml", TEXT)
    return CliRunner().invoke(
        cli, ["plan", str(file), *args, "--state-dir", str(tmp_path / "state")],
        env={"NO_COLOR": "1"})


def test_plan_provenance_names_the_profile_a_selector_chose(tmp_path: Path) -> None:
    text = plan(tmp_path, "--cluster", "demo-prod", "--show-provenance")
    assert text.exit_code == 0, text.output
    assert 'custom.over_subscription = "90"  (profile:listed)' in text.stdout
    assert 'custom.number_of_reserved_disks = "8"  (profile:gold)' in text.stdout
    result = plan(tmp_path, "--cluster", "demo-staging", "--format", "json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["clusters"][0]["changes"]
    everest = next(ch for ch in changes if ch["addon"] == "everest")
    assert everest["provenance"]["custom.over_subscription"] == "profile:gold"
    assert everest["provenance"]["custom.number_of_reserved_disks"] == "desired"
    assert everest["after_version"] == "2.4.28"
    metrics = next(ch for ch in changes if ch["addon"] == "metrics-server")
    assert metrics["after_version"] == "1.3.68"   # only the glob brought it


# ---- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "message"), [
    ('["tier=gold"]', "['tier in (gold']",
     "profiles.gold.clusters[0]: selector 'tier in (gold': `(` without `)`"),
    ('["tier=gold"]', "['gold tier']",
     "profiles.gold.clusters[0]: `gold tier` is neither a cluster name, a glob nor a label "
     "selector (write a cluster name, a glob (prod-*) or a selector (env=prod, "
     "tier in (gold,silver)))"),
    ("[demo-legacy,", "[demo-legcy,",
     "profiles.pinned.clusters[0]: profile `pinned` names cluster `demo-legcy`, which is not "
     "declared (did you mean `demo-legacy`?)"),
    ("[demo-legacy,", "[nothing-like-it,",
     "profiles.pinned.clusters[0]: profile `pinned` names cluster `nothing-like-it`, which is "
     "not declared (clusters in these files: demo-legacy, demo-prod, demo-staging)"),
    ('    clusters: ["tier=gold"]', '    cluster: ["tier=gold"]',
     "profiles.gold.cluster: unknown key `cluster` (did you mean `clusters`?)"),
    ('["tier=gold"]', '"tier=gold"',
     'profiles.gold.clusters: expected a list, got "tier=gold"'),
])
def test_profile_cluster_errors_through_validate(tmp_path: Path, old: str, new: str,
                                                 message: str) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    result = validate(tmp_path, text)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    line = line_of(text, new)
    assert f"f.yaml:{line}:" in result.stderr and message in result.stderr, result.stderr
    assert result.stderr.count("error:") == 1, result.stderr


def test_an_error_in_a_profiles_clusters_writes_no_plan_or_state(tmp_path: Path) -> None:
    file = write(tmp_path / "fleet.yaml", TEXT.replace('["tier=gold"]', '["tier=gold,"]'))
    out = tmp_path / "out.plan.json"
    result = CliRunner().invoke(cli, ["plan", str(file), "--out", str(out),
                                      "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "profiles.gold.clusters[0]" in result.stderr
    assert not out.exists() and not (tmp_path / "state").exists()


def test_an_unreadable_file_is_not_echoed_as_undeclared_clusters(tmp_path: Path) -> None:
    # The clusters the profile names may be in the file that failed: only its error shows.
    profiles = write(tmp_path / "a.yaml", HEAD + PROFILES + "clusters: {}\n")
    clusters = write(tmp_path / "b.yaml", HEAD + CLUSTERS + "  bad: [\n")
    with pytest.raises(InputError) as raised:
        load(profiles, clusters)
    found = [str(d) for d in raised.value.diagnostics]
    assert len(found) == 1 and str(clusters) in found[0], found


def test_the_schema_describes_a_profiles_clusters() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    profile = json.loads(result.stdout)["$defs"]["profile"]
    assert set(profile["properties"]) == {"clusters", "addons"}
    assert "selectors" in profile["properties"]["clusters"]["description"]


def test_the_fleet_example_chooses_its_profiles_by_glob_and_label() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
    desired = load(example)
    assert "    profiles: [" not in example.read_text()   # no cluster lists its profiles
    profiles = {c.name: c.profiles for c in desired.clusters}
    assert profiles["fleet-prod-eu-2"] == ("base", "autoscaler", "prod")
    assert profiles["fleet-staging-ap"] == ("base", "autoscaler")
    assert profiles["fleet-dev-us"] == ("base", "autoscaler")
    assert sum("prod" in chosen for chosen in profiles.values()) == 8
