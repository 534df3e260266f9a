"""load_desired on real files: rendering, variables, env/secret, positions, selection."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_desired, schema_text
from reconciler.config.build import timeout_seconds
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import InputError
from reconciler.model.trust import EnvRule

CID = "6b400e1c-4368-11f0-ba56-0255ac100037"
ANY_ENV = EnvRule(("*",))
"""The operator allows every variable (the tool's own stay unreadable)."""
CID2 = "7c511f2d-4368-11f0-ba56-0255ac100038"
HEAD = """\
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: 0504201b6c80256b2f08c0099f0c8fe4
"""

DESIGN_EXAMPLE = f"""\
# yaml-language-server: $schema=../reconciler/config/schema/desired-state.schema.json
apiVersion: reconciler/v1
defaults:
  region: ap-southeast-1
  project_id: "{{{{ env('TEAM_PROJECT_ID', '0504201b6c80256b2f08c0099f0c8fe4') }}}}"
  endpoint: https://cce.ap-southeast-1.myhuaweicloud.com
clusters:
  prod-eu:
    cluster_id: {CID}
    prune: false
    upgrade_readiness:
      target_version: v1.31
    addons:
      coredns:
        version: 1.30.33
        flavor: 5000
        values:
          custom:
            upstream_nameservers: ["10.0.0.2"]
            stub_domains: {{"acme.local": ["10.0.0.53"]}}
        precheck:
          accept: [K8sResourceModified]
        ignore_changes: [custom.tolerations]
        protect: true
      metrics-server:
        version: "{{{{ vars.metrics_version }}}}"
      npd:
        state: absent
      autoscaler:
        version: 1.29.17
        depends_on: [metrics-server]
        on_failure: rollback
        timeout: 1h30m
        values:
          custom:
            maxNodesTotal: 50
            password: "{{{{ secret('AUTOSCALER_TOKEN') }}}}"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(excinfo: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(d) for d in excinfo.value.diagnostics]


def test_the_design_example_loads_with_every_field(tmp_path: Path) -> None:
    file = write(tmp_path / "prod.yaml", DESIGN_EXAMPLE)
    desired = load_desired(
        [file], variables={"metrics_version": "0.6.2"}, allowed_env=ANY_ENV,
        environ={"AUTOSCALER_TOKEN": "s3cr3t"}
    )
    (cluster,) = desired.clusters
    assert (cluster.name, cluster.cluster_id, cluster.region) == ("prod-eu", CID, "ap-southeast-1")
    assert cluster.project_id == "0504201b6c80256b2f08c0099f0c8fe4"
    assert cluster.upgrade_readiness is not None
    assert cluster.upgrade_readiness.target_version == "v1.31"
    assert [a.name for a in cluster.addons] == ["coredns", "metrics-server", "npd", "autoscaler"]
    coredns = cluster.addon("coredns")
    assert coredns is not None
    assert coredns.flavor == "5000"  # a YAML number, kept as the preset's name
    assert coredns.values == {
        "custom": {
            "upstream_nameservers": ["10.0.0.2"],
            "stub_domains": {"acme.local": ["10.0.0.53"]},
        }
    }
    assert coredns.precheck_accept == ("K8sResourceModified",)
    assert coredns.ignore_changes == ("custom.tolerations",)
    assert coredns.protect is True
    assert coredns.location is not None and (coredns.location.line, coredns.location.column) == (
        14,
        7,
    )
    metrics = cluster.addon("metrics-server")
    assert metrics is not None and metrics.version == "0.6.2"
    npd = cluster.addon("npd")
    assert npd is not None and npd.state == "absent"
    autoscaler = cluster.addon("autoscaler")
    assert autoscaler is not None
    assert autoscaler.depends_on == ("metrics-server",)
    assert autoscaler.on_failure == "rollback"
    assert autoscaler.timeout_seconds == 5400
    assert autoscaler.values["custom"]["password"] == "s3cr3t"
    assert autoscaler.secret_sources == {"custom.password": ("AUTOSCALER_TOKEN",)}
    assert desired.files == (str(file),)
    assert len(desired.digest) == 64


def test_defaults_fill_clusters_and_the_endpoint_follows_the_region(tmp_path: Path) -> None:
    file = write(
        tmp_path / "a.yaml",
        HEAD
        + f"""\
  prune: true
  timeout: 90
clusters:
  eu:
    cluster_id: {CID}
    addons:
      coredns: {{}}
  us:
    cluster_id: {CID2}
    region: la-north-2
    project_id: p2
    prune: false
    endpoint: emulator://demo
""",
    )
    eu, us = load_desired([file], environ={}).clusters
    assert eu.endpoint == "https://cce.ap-southeast-1.myhuaweicloud.com"
    assert (eu.prune, eu.project_id) == (True, "0504201b6c80256b2f08c0099f0c8fe4")
    assert eu.addons[0].timeout_seconds == 90
    assert (us.region, us.project_id, us.prune, us.endpoint) == (
        "la-north-2",
        "p2",
        False,
        "emulator://demo",
    )


def test_endpoint_override_replaces_every_cluster_endpoint(tmp_path: Path) -> None:
    file = write(tmp_path / "a.yaml", HEAD + f"clusters:\n  eu:\n    cluster_id: {CID}\n")
    desired = load_desired([file], endpoint="http://127.0.0.1:8080", environ={})
    assert desired.clusters[0].endpoint == "http://127.0.0.1:8080"
    with pytest.raises(InputError) as excinfo:
        load_desired([file], endpoint="cce.example.com", environ={})
    assert "invalid endpoint 'cce.example.com'" in errors_of(excinfo)[0]


VARS_FILE = (
    """\
vars:
  a: from-block
  b: from-block
  c: from-block
  from_cli: "{{ vars.c }}"
"""
    + HEAD
    + f"""\
clusters:
  eu:
    cluster_id: {CID}
    addons:
      x:
        values:
          custom: {{a: "{{{{ vars.a }}}}", b: "{{{{ vars.b }}}}", c: "{{{{ vars.c }}}}",
                   from_cli: "{{{{ vars.from_cli }}}}"}}
"""
)


def test_variables_precedence_block_then_var_files_then_var(tmp_path: Path) -> None:
    file = write(tmp_path / "a.yaml", VARS_FILE)
    first = write(tmp_path / "one.yaml", "b: from-var-file-1\nc: from-var-file-1\n")
    second = write(tmp_path / "two.yaml", "c: from-var-file-2\n")
    desired = load_desired(
        [file], var_files=[first, second], variables={"c": "from-var"}, environ={}
    )
    custom = desired.clusters[0].addons[0].values["custom"]
    assert custom == {
        "a": "from-block",
        "b": "from-var-file-1",
        "c": "from-var",
        # the block is rendered with the command-line variables (first pass)
        "from_cli": "from-var",
    }


def test_vars_block_entries_may_use_each_other_in_any_order(tmp_path: Path) -> None:
    text = VARS_FILE.replace(
        'from_cli: "{{ vars.c }}"', 'from_cli: "{{ vars.later }}-x"\n  later: L'
    )
    desired = load_desired([write(tmp_path / "a.yaml", text)], environ={})
    assert desired.clusters[0].addons[0].values["custom"]["from_cli"] == "L-x"


def test_vars_block_entries_that_loop_are_reported(tmp_path: Path) -> None:
    text = VARS_FILE.replace('from_cli: "{{ vars.c }}"', 'from_cli: "{{ vars.from_cli }}+"')
    with pytest.raises(InputError) as excinfo:
        load_desired([write(tmp_path / "a.yaml", text)], environ={})
    assert errors_of(excinfo) == [
        f"{tmp_path / 'a.yaml'}:5:3: error: vars.from_cli: the entries of `vars:` refer to each"
        " other in a loop: vars.from_cli → vars.from_cli (make sure no entry depends, directly"
        " or through others, on itself)"
    ]


@pytest.mark.parametrize(
    ("block", "loop"),
    [
        ('a: "{{ vars.a }}"\n  b: x\n', "vars.a → vars.a"),
        ('a: "{{ vars.b }}"\n  b: "{{ vars.a }}"\n', "vars.a → vars.b → vars.a"),
        ("b: x\n  c: \"{{ vars['d'] }}\"\n  d: >-\n    {{ vars.e }}\n  e: \"{{ vars.c }}\"\n",
         "vars.c → vars.d → vars.e → vars.c"),
    ],
    ids=["itself", "two", "three-with-a-folded-scalar"],
)
def test_vars_loops_that_settle_on_empty_values_are_errors(
    tmp_path: Path, block: str, loop: str
) -> None:
    # These settle (every entry renders "") instead of growing: once they passed as empty vars.
    text = f"vars:\n  {block}" + HEAD + f"clusters:\n  eu:\n    cluster_id: {CID}\n"
    with pytest.raises(InputError) as excinfo:
        load_desired([write(tmp_path / "a.yaml", text)], environ={})
    (error,) = errors_of(excinfo)
    assert f"refer to each other in a loop: {loop} (" in error


def test_a_var_given_outside_the_file_breaks_a_loop_through_it(tmp_path: Path) -> None:
    # --var wins over the block, so vars.b is "1" wherever it is used: no loop.
    text = ('vars:\n  a: "{{ vars.b }}"\n  b: "{{ vars.a }}"\n' + HEAD
            + f"clusters:\n  eu:\n    cluster_id: {CID}\n")
    desired = load_desired([write(tmp_path / "a.yaml", text)], environ={},
                           variables={"b": "1"})
    assert [c.name for c in desired.clusters] == ["eu"]


def test_a_chain_of_vars_is_no_loop(tmp_path: Path) -> None:
    text = ('vars:\n  a: "{{ vars.b }}-{{ vars.c }}"\n  b: "{{ vars.c }}"\n  c: "1"\n' + HEAD
            + f"clusters:\n  eu:\n    cluster_id: {CID}\n    labels: {{v: \"{{{{ vars.a }}}}\"}}\n")
    desired = load_desired([write(tmp_path / "a.yaml", text)], environ={})
    assert desired.clusters[0].labels == {"v": "1-1"}


def test_a_secret_in_the_vars_block_is_rejected(tmp_path: Path) -> None:
    text = VARS_FILE.replace('from_cli: "{{ vars.c }}"', "from_cli: \"{{ secret('S') }}\"")
    with pytest.raises(InputError) as excinfo:
        load_desired([write(tmp_path / "a.yaml", text)], allowed_env=ANY_ENV,
                     environ={"S": "hunter2"})
    assert "vars.from_cli: secret('S') is used outside an add-on's `values`" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_env_reads_the_given_environment_and_falls_back_to_the_default(tmp_path: Path) -> None:
    file = write(
        tmp_path / "a.yaml",
        HEAD
        + f"""\
clusters:
  eu:
    cluster_id: {CID}
    region: "{{{{ env('REGION') }}}}"
    project_id: "{{{{ env('PROJECT', 'fallback') }}}}"
""",
    )
    (cluster,) = load_desired([file], allowed_env=ANY_ENV,
                              environ={"REGION": "eu-west-101"}).clusters
    assert (cluster.region, cluster.project_id) == ("eu-west-101", "fallback")
    assert cluster.endpoint == "https://cce.eu-west-101.myhuaweicloud.eu"  # the SDK's table
    (cluster,) = load_desired([file], allowed_env=ANY_ENV,
                              environ={"REGION": "cn-north-4", "PROJECT": "p9"}).clusters
    assert (cluster.region, cluster.project_id) == ("cn-north-4", "p9")


SECRET_FILE = (
    HEAD
    + f"""\
clusters:
  eu:
    cluster_id: {CID}
    addons:
      autoscaler:
        values:
          custom:
            token: "{{{{ secret('TOKEN') }}}}"
            header: "Bearer {{{{ secret('TOKEN') }}}} / {{{{ secret('OTHER') }}}}"
            list: [plain, "{{{{ secret('OTHER') }}}}"]
          basic:
            plain: visible
"""
)


def test_secrets_are_substituted_and_their_leaves_recorded(tmp_path: Path) -> None:
    file = write(tmp_path / "a.yaml", SECRET_FILE)
    desired = load_desired([file], allowed_env=ANY_ENV,
                           environ={"TOKEN": "t-value", "OTHER": "o-value"})
    addon = desired.clusters[0].addons[0]
    assert addon.values == {
        "custom": {
            "token": "t-value",
            "header": "Bearer t-value / o-value",
            "list": ["plain", "o-value"],
        },
        "basic": {"plain": "visible"},
    }
    assert addon.secret_sources == {
        "custom.token": ("TOKEN",),
        "custom.header": ("TOKEN", "OTHER"),
        "custom.list[1]": ("OTHER",),
    }


def test_the_digest_is_stable_follows_secrets_and_does_not_contain_them(tmp_path: Path) -> None:
    file = write(tmp_path / "a.yaml", SECRET_FILE)
    environ = {"TOKEN": "t-value", "OTHER": "o-value"}
    first = load_desired([file], allowed_env=ANY_ENV, environ=environ).digest
    # tokens are random per run
    assert load_desired([file], allowed_env=ANY_ENV, environ=environ).digest == first
    changed = load_desired([file], allowed_env=ANY_ENV,
                           environ={**environ, "TOKEN": "t-value-2"}).digest
    assert changed != first
    assert load_desired([file], allowed_env=ANY_ENV, environ=environ,
                        clusters=["eu"]).digest != first


def test_a_secret_never_appears_in_diagnostics(tmp_path: Path) -> None:
    text = SECRET_FILE.replace(
        "    addons:", "    endpoint: \"{{ secret('TOKEN') }}\"\n    addons:"
    )
    file = write(tmp_path / "a.yaml", text)
    with pytest.raises(InputError) as excinfo:
        load_desired([file], allowed_env=ANY_ENV, environ={"TOKEN": "t-value", "OTHER": "o-value"})
    text_out = str(excinfo.value)
    assert "t-value" not in text_out
    assert "secret('TOKEN') is used outside an add-on's `values`" in text_out
    assert "invalid endpoint \"secret('TOKEN')\"" in text_out


def test_positions_point_at_the_source_even_after_block_tags(tmp_path: Path) -> None:
    file = write(
        tmp_path / "a.yaml",
        HEAD
        + f"""\
clusters:
{{% for region in ['r1', 'r2', 'r3'] %}}
  c-{{{{ region }}}}:
    cluster_id: {CID[:-1]}{{{{ loop.index }}}}
    region: "{{{{ region }}}}"
{{% endfor %}}
  last:
    cluster_id: {CID2}
    addons:
      coredns:
        verison: "1.30.33"
""",
    )
    with pytest.raises(InputError) as excinfo:
        load_desired([file], environ={})
    (diagnostic,) = excinfo.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (15, 9)
    assert diagnostic.key_path == "clusters.last.addons.coredns.verison"
    assert "did you mean `version`?" in diagnostic.hint


def test_all_problems_of_all_files_are_reported_in_file_order(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path / "b.yaml", "apiVersion: [\n")
    bad_schema = write(
        tmp_path / "a.yaml", HEAD + f"clusters:\n  eu:\n    cluster_id: {CID}\n    prune: 1\n"
    )
    with pytest.raises(InputError) as excinfo:
        load_desired([bad_yaml, bad_schema, tmp_path / "missing.yaml"], environ={})
    located = [(d.file, d.line) for d in excinfo.value.diagnostics]
    assert located == [
        (str(tmp_path / "missing.yaml"), 0),  # not one of the loaded files: first
        (str(bad_yaml), 2),
        (str(bad_schema), 8),
    ]


def test_a_directory_means_its_yaml_files_sorted(tmp_path: Path) -> None:
    write(tmp_path / "envs" / "b.yml", HEAD + f"clusters:\n  b:\n    cluster_id: {CID2}\n")
    write(tmp_path / "envs" / "a.yaml", HEAD + f"clusters:\n  a:\n    cluster_id: {CID}\n")
    write(tmp_path / "envs" / "notes.txt", "not yaml")
    desired = load_desired([tmp_path / "envs", tmp_path / "envs" / "a.yaml"], environ={})
    assert [c.name for c in desired.clusters] == ["a", "b"]
    assert desired.files == (str(tmp_path / "envs" / "a.yaml"), str(tmp_path / "envs" / "b.yml"))


def test_cluster_selection_keeps_file_order_and_rejects_unknown_names(tmp_path: Path) -> None:
    file = write(
        tmp_path / "a.yaml",
        HEAD + f"clusters:\n  a:\n    cluster_id: {CID}\n  b:\n    cluster_id: {CID2}\n",
    )
    assert [c.name for c in load_desired([file], clusters=["b"], environ={}).clusters] == ["b"]
    both = load_desired([file], clusters=["b", "a"], environ={})
    assert [c.name for c in both.clusters] == ["a", "b"]
    with pytest.raises(InputError) as excinfo:
        load_desired([file], clusters=["c", "a"], environ={})
    assert errors_of(excinfo) == [
        "--cluster: error: unknown cluster `c` (clusters in these files: a, b)"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(600, 600.0), (1.5, 1.5), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), (None, None)],
)
def test_timeouts_are_seconds_or_durations(text: object, seconds: float | None) -> None:
    assert timeout_seconds(text) == seconds


def test_the_packaged_schema_is_valid_and_accepts_the_rendered_example(tmp_path: Path) -> None:
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    rendered = (
        DESIGN_EXAMPLE.replace(
            "{{ env('TEAM_PROJECT_ID', '0504201b6c80256b2f08c0099f0c8fe4') }}", "p"
        )
        .replace("{{ vars.metrics_version }}", "0.6.2")
        .replace("{{ secret('AUTOSCALER_TOKEN') }}", "x")
    )
    jsonschema.validate(yaml.safe_load(rendered), schema)


def test_validate_command_summarises_valid_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no template catalogue kept by an earlier plan
    file = write(tmp_path / "prod.yaml", DESIGN_EXAMPLE)
    result = CliRunner().invoke(
        cli,
        ["validate", str(file), "--var", "metrics_version=0.6.2", "--cluster", "prod-eu"],
        env={"AUTOSCALER_TOKEN": "s3cr3t", "RECONCILER_ALLOW_ENV": "AUTOSCALER_TOKEN,TEAM_*"},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "1 file valid: 1 cluster, 4 add-ons\n"
        "values: not checked against the add-on templates: no plan has read them here yet "
        "(after one, validate checks value keys without network)\n")
    assert result.stderr == ""


def test_schema_command_prints_the_packaged_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(schema_text())


def test_the_returned_state_is_a_desired_state(tmp_path: Path) -> None:
    file = write(tmp_path / "a.yaml", HEAD + "clusters: {}\n")
    desired = load_desired([file], environ={})
    assert isinstance(desired, DesiredState)
    assert desired.clusters == ()


def test_digest_does_not_depend_on_where_the_files_live(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "examples" / "demo.yaml").read_text()
    here, there = tmp_path / "a", tmp_path / "b" / "nested"
    here.mkdir()
    there.mkdir(parents=True)
    (here / "demo.yaml").write_text(text)
    (there / "fleet.yaml").write_text(text)
    first = load_desired([here / "demo.yaml"], environ={})
    second = load_desired([there / "fleet.yaml"], environ={})
    assert first.digest == second.digest
    (there / "fleet.yaml").write_text(text.replace("10.0.0.2", "10.0.0.9"))
    assert load_desired([there / "fleet.yaml"], environ={}).digest != first.digest
