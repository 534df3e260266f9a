"""Fleet declarations: labels, profiles, version constraints and the rollout block,
loaded from real files (``load_desired``) and through ``reconciler validate``."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_desired, schema_text
from reconciler.model.desired import ClusterSpec, DesiredState, SourceLocation
from reconciler.model.diagnostics import InputError
from reconciler.model.rollout import PauseMode, Rollout, Wave
from reconciler.model.trust import EnvRule

HEAD = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
  endpoint: emulator://demo
"""
PROFILES = """\
profiles:
  base:
    addons:
      everest:
        version: 2.4.28
        values:
          custom:
            over_subscription: "70"
            tolerations: [{key: a}, {key: b}]
      metrics-server:
        version: 1.3.68
  scaled:
    addons:
      autoscaler:
        version: "~1.30"
        depends_on: [metrics-server]
        values:
          custom:
            maxNodesTotal: 20
            scaleDownEnabled: true
            token: "{{ secret('AS_TOKEN') }}"
            password: "{{ secret('AS_PASSWORD') }}"
"""
CLUSTERS = """\
clusters:
  demo-prod:
    cluster_id: 6b400e1c-4368-11f0-ba56-0255ac100037
    labels: {env: prod, tier: gold}
    profiles: [base, scaled]
    addons:
      everest:
        values:
          custom:
            tolerations: [{key: c}]
      autoscaler:
        values:
          custom:
            maxNodesTotal: 80
            password: plain
  demo-staging:
    cluster_id: 7c1f5a2e-4368-11f0-ba56-0255ac100037
    labels: {env: staging, tier: silver}
    profiles: [base]
  demo-legacy:
    cluster_id: 8d2e6b3f-4368-11f0-ba56-0255ac100037
    addons:
      npd:
        version: 1.19.1
"""
SECRETS = {"AS_TOKEN": "tok-s3cr3t-value", "AS_PASSWORD": "pw-s3cr3t-value"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(*files: Path, clusters: tuple[str, ...] = ()) -> DesiredState:
    return load_desired(list(files), environ=SECRETS, clusters=clusters,
                        allowed_env=EnvRule(tuple(SECRETS)))


def errors(*files: Path, clusters: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(InputError) as raised:
        load(*files, clusters=clusters)
    return [str(d) for d in raised.value.diagnostics]


def cluster(desired: DesiredState, name: str) -> ClusterSpec:
    return next(c for c in desired.clusters if c.name == name)


def line_of(text: str, fragment: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(fragment, start)].count("\n") + 1


# ---- labels -------------------------------------------------------------------------


def test_labels_fill_the_spec_under_defaults_labels(tmp_path: Path) -> None:
    text = HEAD + "  labels: {fleet: demo, env: none}\n" + PROFILES + CLUSTERS
    desired = load(write(tmp_path / "f.yaml", text))
    assert cluster(desired, "demo-prod").labels == {"fleet": "demo", "env": "prod",
                                                    "tier": "gold"}
    assert cluster(desired, "demo-legacy").labels == {"fleet": "demo", "env": "none"}


@pytest.mark.parametrize(("labels", "message"), [
    ("{'bad key': x}", "clusters.demo-legacy.labels.bad key: invalid label: `bad key` is not a "
                       "label key (letters, digits, `-`, `_`, `.`, at most 63 characters"),
    ("{env: -prod}", "clusters.demo-legacy.labels.env: invalid label: `-prod` is not a label "
                     "value"),
    ("{tier: 3}", 'clusters.demo-legacy.labels.tier: expected a string, got 3 (quote it: '
                  'tier: "3")'),
])
def test_a_bad_label_is_reported_at_its_line(tmp_path: Path, labels: str, message: str) -> None:
    text = HEAD + PROFILES + CLUSTERS.replace(
        "    cluster_id: 8d2e", f"    labels: {labels}\n    cluster_id: 8d2e")
    file = write(tmp_path / "f.yaml", text)
    found = errors(file)
    line = line_of(text, f"labels: {labels}")
    assert any(f"f.yaml:{line}:" in e and message in e for e in found), found


# ---- profiles ------------------------------------------------------------------------


def test_profiles_merge_in_order_then_the_clusters_own_addons(tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS
    desired = load(write(tmp_path / "f.yaml", text))
    prod = cluster(desired, "demo-prod")
    assert prod.profiles == ("base", "scaled")
    assert [a.name for a in prod.addons] == ["everest", "metrics-server", "autoscaler"]
    everest = prod.addon("everest")
    assert everest is not None and everest.version == "2.4.28"
    # maps merge, lists replace
    assert everest.values == {"custom": {"over_subscription": "70", "tolerations": [{"key": "c"}]}}
    autoscaler = prod.addon("autoscaler")
    assert autoscaler is not None
    assert autoscaler.depends_on == ("metrics-server",)
    assert autoscaler.values["custom"] == {
        "maxNodesTotal": 80, "scaleDownEnabled": True, "token": "tok-s3cr3t-value",
        "password": "plain"}
    assert cluster(desired, "demo-staging").addon("autoscaler") is None
    assert cluster(desired, "demo-legacy").profiles == ()


def test_profile_origins_name_the_profile_of_each_leaf_the_cluster_kept(tmp_path: Path) -> None:
    desired = load(write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS))
    prod = cluster(desired, "demo-prod")
    everest, autoscaler = prod.addon("everest"), prod.addon("autoscaler")
    assert everest is not None and autoscaler is not None
    assert everest.profile_origins == {
        "version": "base", "values.custom.over_subscription": "base"}
    assert autoscaler.profile_origins == {
        "version": "scaled", "depends_on": "scaled", "depends_on[0]": "scaled",
        "values.custom.scaleDownEnabled": "scaled", "values.custom.token": "scaled"}
    staging_everest = cluster(desired, "demo-staging").addon("everest")
    assert staging_everest is not None
    # only a profile declares it: every leaf is the profile's
    assert staging_everest.profile_origins == {
        "version": "base", "values.custom.over_subscription": "base",
        "values.custom.tolerations": "base", "values.custom.tolerations[0]": "base",
        "values.custom.tolerations[0].key": "base", "values.custom.tolerations[1]": "base",
        "values.custom.tolerations[1].key": "base"}
    legacy_npd = cluster(desired, "demo-legacy").addon("npd")
    assert legacy_npd is not None and legacy_npd.profile_origins == {}


def test_a_secret_in_a_profile_stays_a_secret_unless_the_cluster_overrides_it(
        tmp_path: Path) -> None:
    desired = load(write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS))
    autoscaler = cluster(desired, "demo-prod").addon("autoscaler")
    assert autoscaler is not None
    assert autoscaler.secret_sources == {"custom.token": ("AS_TOKEN",)}
    assert autoscaler.secret_templates == {"custom.token": "${AS_TOKEN}"}


def test_secrets_from_a_profile_in_another_file_are_read(tmp_path: Path) -> None:
    profiles = write(tmp_path / "a-profiles.yaml", HEAD + PROFILES + "clusters: {}\n")
    clusters = write(tmp_path / "b-clusters.yaml", HEAD + CLUSTERS)
    desired = load(profiles, clusters)
    autoscaler = cluster(desired, "demo-prod").addon("autoscaler")
    assert autoscaler is not None
    assert autoscaler.values["custom"]["token"] == "tok-s3cr3t-value"
    assert autoscaler.location == SourceLocation(str(clusters), line_of(
        HEAD + CLUSTERS, "autoscaler:"), 7)


def test_values_from_a_profile_point_at_the_profiles_lines(tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS
    file = write(tmp_path / "f.yaml", text)
    autoscaler = cluster(load(file), "demo-prod").addon("autoscaler")
    assert autoscaler is not None
    locations = autoscaler.value_locations
    assert locations["version"].line == line_of(text, '"~1.30"')
    assert locations["values.custom.scaleDownEnabled"].line == line_of(text, "scaleDownEnabled")
    assert locations["values.custom.maxNodesTotal"].line == line_of(text, "maxNodesTotal: 80")
    assert locations["values.custom.password"].line == line_of(text, "password: plain")
    everest = cluster(load(file), "demo-prod").addon("everest")
    assert everest is not None
    # the cluster's one-item list replaced the profile's two: no stale [1]
    assert everest.value_locations["values.custom.tolerations[0]"].line == line_of(
        text, "[{key: c}]")
    assert "values.custom.tolerations[1]" not in everest.value_locations


def test_an_unknown_profile_is_an_error_listing_the_declared_ones(tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS.replace("profiles: [base]", "profiles: [bsae]")
    found = errors(write(tmp_path / "f.yaml", text))
    line = line_of(text, "[bsae]")
    assert found == [
        f"{tmp_path / 'f.yaml'}:{line}:16: error: clusters.demo-staging.profiles[0]: cluster "
        "`demo-staging` uses profile `bsae`, which is not declared (declared profiles: base, "
        "scaled)"]


def test_a_broken_profiles_file_is_reported_once_not_echoed_per_reference(
        tmp_path: Path) -> None:
    profiles = write(tmp_path / "a.yaml", HEAD + PROFILES + "clusters: {}\n  bad: [\n")
    clusters = write(tmp_path / "b.yaml", HEAD + CLUSTERS)
    found = errors(profiles, clusters)
    assert len(found) == 1 and str(profiles) in found[0], found


def test_a_profile_declared_in_two_files_is_an_error(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", HEAD + PROFILES + "clusters: {}\n")
    second = write(tmp_path / "b.yaml", HEAD + PROFILES + CLUSTERS)
    found = errors(first, second)
    assert any("b.yaml:7:3: error: profiles.base: profile `base` is declared twice (first "
               f"declared at {first}:7:3" in e for e in found), found


def test_depends_on_in_a_profile_is_checked_against_the_merged_addons(tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS.replace("profiles: [base, scaled]", "profiles: [scaled]")
    found = errors(write(tmp_path / "f.yaml", text))
    assert any(f"f.yaml:{line_of(text, '[metrics-server]')}:22: error: "
               "profiles.scaled.addons.autoscaler.depends_on[0]: depends_on names "
               "`metrics-server`, which is not declared in cluster `demo-prod`" in e
               for e in found), found


def test_a_secret_in_a_profile_outside_values_is_refused(tmp_path: Path) -> None:
    text = HEAD + PROFILES.replace('version: "~1.30"', "version: \"{{ secret('AS_TOKEN') }}\"")
    found = errors(write(tmp_path / "f.yaml", text + CLUSTERS))
    assert any("profiles.scaled.addons.autoscaler.version: secret('AS_TOKEN') is used outside "
               "an add-on's `values`" in e for e in found), found


# ---- version constraints --------------------------------------------------------------


def test_a_constraint_goes_to_version_constraint_an_exact_version_to_version(
        tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS.replace("version: 1.19.1", "version: latest")
    desired = load(write(tmp_path / "f.yaml", text))
    autoscaler = cluster(desired, "demo-prod").addon("autoscaler")
    everest = cluster(desired, "demo-prod").addon("everest")
    npd = cluster(desired, "demo-legacy").addon("npd")
    assert autoscaler is not None and everest is not None and npd is not None
    assert (autoscaler.version, autoscaler.version_constraint) == (None, "~1.30")
    assert (everest.version, everest.version_constraint) == ("2.4.28", None)
    assert (npd.version, npd.version_constraint) == (None, "latest")


def test_a_bad_constraint_is_reported_on_the_version_key(tmp_path: Path) -> None:
    text = HEAD + PROFILES + CLUSTERS.replace("version: 1.19.1", 'version: ">=1.19,<<2"')
    found = errors(write(tmp_path / "f.yaml", text))
    assert found == [
        f"{tmp_path / 'f.yaml'}:{line_of(text, '>=1.19')}:18: error: "
        "clusters.demo-legacy.addons.npd.version: version constraint '>=1.19,<<2': `<2` is not "
        "a version (numbers joined by dots, e.g. 1.30); valid: an exact version (1.30.15), "
        "`latest`, `~1.30` (any 1.30.x), `~1.30.2` (>=1.30.2,<1.31) or comparisons joined by "
        "commas (`>=1.30,<1.31`; operators >=, >, <=, <, ==, !=)"]


# ---- rollout ---------------------------------------------------------------------------

ROLLOUT = """\
rollout:
  waves:
    - name: canary
      clusters: [demo-staging]
      soak: 10m
    - name: prod
      clusters: ["env=prod", "prod-*"]
      soak: 90
      max_parallel: 5
      max_failures: 1
    - name: rest
      soak: 1h30s
  pause: manual
"""


def test_the_rollout_block_builds_its_waves(tmp_path: Path) -> None:
    text = HEAD + ROLLOUT + PROFILES + CLUSTERS
    file = write(tmp_path / "f.yaml", text)
    desired = load(file, clusters=("demo-legacy",))  # waves stay whole under --cluster
    assert desired.rollout == Rollout((
        Wave("canary", ("demo-staging",), 600.0, None, 0,
             SourceLocation(str(file), line_of(text, "- name: canary"), 7)),
        Wave("prod", ("env=prod", "prod-*"), 90.0, 5, 1,
             SourceLocation(str(file), line_of(text, "- name: prod"), 7)),
        Wave("rest", (), 3630.0, None, 0,
             SourceLocation(str(file), line_of(text, "- name: rest"), 7)),
    ), PauseMode.MANUAL)
    assert [w.location for w in desired.rollout.waves] == [
        SourceLocation(str(file), line_of(text, f"- name: {n}"), 7)
        for n in ("canary", "prod", "rest")]


def test_validate_shows_how_many_clusters_each_wave_takes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no template catalogue kept by an earlier plan
    file = write(tmp_path / "f.yaml", HEAD + ROLLOUT + PROFILES + CLUSTERS)
    result = CliRunner().invoke(cli, ["validate", str(file), "--allow-env", "AS_*"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "1 file valid: 3 clusters, 6 add-ons\n"
        "rollout: canary (1 cluster) → prod (1 cluster) → rest (1 cluster)\n"
        "profiles: base (2 clusters), scaled (1 cluster)\n"
        "values: not checked against the add-on templates: no plan has read them here yet "
        "(after one, validate checks value keys without network)\n")


def test_without_a_rollout_block_there_is_none(tmp_path: Path) -> None:
    assert load(write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS)).rollout is None


def test_the_same_rollout_in_two_files_is_one_rollout(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", HEAD + ROLLOUT + "clusters: {}\n")
    second = write(tmp_path / "b.yaml", HEAD + ROLLOUT + PROFILES + CLUSTERS)
    desired = load(first, second)
    assert desired.rollout is not None and len(desired.rollout.waves) == 3


def test_different_rollouts_in_two_files_are_an_error(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", HEAD + ROLLOUT + "clusters: {}\n")
    changed = ROLLOUT.replace("soak: 10m", "soak: 5m")
    second = write(tmp_path / "b.yaml", HEAD + changed + PROFILES + CLUSTERS)
    assert errors(first, second) == [
        f"{second}:6:1: error: rollout: conflicting `rollout:` blocks: this one differs from the "
        f"one at {first}:6:1 (give the rollout block in one file only (or the same block in "
        "each))"]


@pytest.mark.parametrize(("rollout", "message"), [
    ("  waves:\n    - name: a\n      clusters: [demo-prod]\n    - name: a\n",
     "rollout.waves[1].name: wave `a` is declared twice (wave names must be unique; the first "
     "is wave 1)"),
    ("  waves:\n    - name: a\n    - name: b\n      clusters: []\n",
     "rollout.waves[1]: two waves without `clusters:` (`a` and `b`)"),
    ("  waves:\n    - name: a\n      clusters: ['tier in (gold']\n",
     "rollout.waves[0].clusters[0]: selector 'tier in (gold': `(` without `)`"),
    ("  waves:\n    - name: a\n      clusters: [demo-prod, 'env=staging']\n",
     "rollout.waves: cluster is in no wave: demo-legacy (add them to a wave's `clusters:` "
     "(names, globs or selectors such as env=prod), or add a last wave without `clusters:`"),
    ("  waves:\n    - name: a\n      clusters: [nothing]\n",
     "rollout.waves: 3 clusters are in no wave: demo-prod, demo-staging, demo-legacy"),
    ("  waves:\n    - name: a\n      color: red\n",
     "rollout.waves[0].color: unknown key `color` (valid keys: name, clusters, soak, "
     "max_parallel, max_failures)"),
    ("  waves:\n    - name: a\n  pace: manual\n",
     "rollout.pace: unknown key `pace` (did you mean `pause`?)"),
    ("  waves:\n    - name: a\n  pause: sometimes\n",
     'rollout.pause: invalid value "sometimes" (valid values: none, manual)'),
    ("  waves:\n    - name: a\n      max_parallel: 0\n",
     "rollout.waves[0].max_parallel: must be at least 1, got 0"),
    ("  waves:\n    - name: a\n      max_failures: -1\n",
     "rollout.waves[0].max_failures: must be at least 0, got -1"),
    ("  waves:\n    - name: a\n      soak: 10 minutes\n",
     'rollout.waves[0].soak: invalid soak "10 minutes" (seconds (600) or a duration'),
    ("  waves:\n    - clusters: [demo-prod]\n",
     "rollout.waves[0]: missing required key `name`"),
    ("  waves: []\n", "rollout.waves: the rollout has no waves"),
])
def test_rollout_errors_through_validate(tmp_path: Path, rollout: str, message: str) -> None:
    text = HEAD + "rollout:\n" + rollout + PROFILES + CLUSTERS
    file = write(tmp_path / "f.yaml", text)
    result = CliRunner().invoke(cli, ["validate", str(file), "--allow-env", "AS_*"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"{file}:" in result.stderr and message in result.stderr, result.stderr


# ---- selection and schema --------------------------------------------------------------


@pytest.mark.parametrize(("chosen", "expected"), [
    (("env=prod",), ["demo-prod"]),
    (("tier in (gold,silver)",), ["demo-prod", "demo-staging"]),
    (("env!=prod",), ["demo-staging", "demo-legacy"]),
    (("!env", "demo-*g"), ["demo-staging", "demo-legacy"]),
])
def test_cluster_takes_selectors(tmp_path: Path, chosen: tuple[str, ...],
                                 expected: list[str]) -> None:
    desired = load(write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS), clusters=chosen)
    assert [c.name for c in desired.clusters] == expected


def test_a_selector_matching_nothing_lists_the_labels(tmp_path: Path) -> None:
    file = write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS)
    assert errors(file, clusters=("env=dev",)) == [
        "--cluster: error: --cluster selector `env=dev` matches no cluster (labels in these "
        "files: env=prod, env=staging, tier=gold, tier=silver)"]


def test_a_bad_selector_says_what_is_valid(tmp_path: Path) -> None:
    file = write(tmp_path / "f.yaml", HEAD + PROFILES + CLUSTERS)
    assert errors(file, clusters=("tier in (gold",)) == [
        "--cluster: error: invalid --cluster: selector 'tier in (gold': `(` without `)` (write "
        "a cluster name, a glob (prod-*) or a label selector (env=prod, tier in (gold,silver)))"]


def test_the_schema_describes_the_new_keys_and_accepts_a_fleet_file() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    schema = json.loads(result.stdout)
    assert {"profiles", "rollout"} <= set(schema["properties"])
    assert {"labels", "profiles"} <= set(schema["$defs"]["cluster"]["properties"])
    assert "labels" in schema["properties"]["defaults"]["properties"]
    assert set(schema["$defs"]["wave"]["properties"]) == {
        "name", "clusters", "soak", "max_parallel", "max_failures"}
    assert "latest" in schema["$defs"]["version"]["description"]
    document = yaml.safe_load((HEAD + PROFILES + ROLLOUT + CLUSTERS).replace(
        "{{ secret('AS_TOKEN') }}", "x").replace("{{ secret('AS_PASSWORD') }}", "y"))
    jsonschema.validate(document, json.loads(schema_text()))
