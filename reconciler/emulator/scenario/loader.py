"""Scenario files: the account, timing and the whole :class:`Scenario`, read
and validated from YAML (format: ``docs/emulator.md``). Loading raises
:class:`ScenarioError` naming the file and the key path."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

import yaml

from reconciler.emulator.scenario.abnormal import AbnormalRule, read_abnormal_rule
from reconciler.emulator.scenario.clusters import ClusterSpec, read_cluster
from reconciler.emulator.scenario.instances import (
    FailureRule,
    InstanceSeed,
    read_failure_rule,
    read_instance,
)
from reconciler.emulator.scenario.prechecks import PrecheckRule, read_precheck_rule
from reconciler.emulator.scenario.reader import Reader, ScenarioError
from reconciler.emulator.scenario.templates import TemplateSpec, read_template
from reconciler.model.json import JSON

__all__ = [
    "Account",
    "Scenario",
    "Timing",
    "demo_scenario_path",
    "generate_account",
    "load_rules",
    "load_scenario",
    "scenario_from_mapping",
]


@dataclass(frozen=True)
class Account:
    """The one account an emulator accepts. Secrets are kept out of ``repr``."""

    project_id: str
    access_key: str
    secret_key: str = field(repr=False)
    token: str = field(repr=False)
    secret_generated: bool = False


def generate_account(project_id: str | None = None) -> Account:
    alphabet = string.ascii_uppercase + string.digits
    return Account(
        project_id=project_id or secrets.token_hex(16),
        access_key="".join(secrets.choice(alphabet) for _ in range(20)),
        secret_key="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)),
        token="emu-" + secrets.token_urlsafe(48),
        secret_generated=True,
    )


@dataclass(frozen=True)
class Timing:
    """Durations in emulated seconds (real seconds = emulated / time_scale)."""

    install_s: float = 20.0
    upgrade_s: float = 20.0
    rollback_s: float = 15.0
    delete_s: float = 10.0
    addon_precheck_init_s: float = 2.0
    addon_precheck_run_s: float = 6.0
    cluster_precheck_init_s: float = 2.0
    cluster_precheck_run_s: float = 12.0
    precheck_expiry_s: float = 3600.0


@dataclass(frozen=True)
class Scenario:
    clusters: tuple[ClusterSpec, ...]
    templates: tuple[TemplateSpec, ...]
    instances: tuple[InstanceSeed, ...] = ()
    precheck_rules: tuple[PrecheckRule, ...] = ()
    failure_rules: tuple[FailureRule, ...] = ()
    abnormal_rules: tuple[AbnormalRule, ...] = ()
    timing: Timing = Timing()
    account: Account | None = None
    source: str = "<scenario>"


def demo_scenario_path() -> Path:
    """The packaged demo scenario (see the comment header of the file)."""
    return Path(str(resources.files("reconciler.emulator") / "scenarios" / "demo.yaml"))


def _account(r: Reader) -> Account:
    r.check_keys({"project_id", "access_key", "secret_key", "token"})
    return Account(
        project_id=r.get("project_id", str, required=True),
        access_key=r.get("access_key", str, required=True),
        secret_key=r.get("secret_key", str, required=True),
        token=r.get("token", str, required=True),
    )


def _timing(r: Reader) -> Timing:
    names = {f.name for f in fields(Timing)}
    r.check_keys(names)
    kwargs = {name: r.get(name, float, default=getattr(Timing(), name)) for name in names}
    for name, value in kwargs.items():
        if value < 0:
            r.fail("must be >= 0", name)
    return Timing(**kwargs)


def scenario_from_mapping(data: JSON, source: str = "<scenario>") -> Scenario:
    root = Reader(source, "", data)
    root.check_keys({"account", "timing", "clusters", "templates", "instances",
                     "precheck_rules", "failure_rules", "abnormal_rules"})
    account = _account(Reader(source, "account", data["account"])) if data.get("account") else None
    timing = _timing(Reader(source, "timing", data["timing"])) if data.get("timing") else Timing()
    clusters: dict[str, ClusterSpec] = {}
    for r in root.items("clusters", required=True):
        c = read_cluster(r)
        if c.id in clusters:
            r.fail(f"duplicate cluster id {c.id}", "id")
        clusters[c.id] = c
    templates: dict[str, TemplateSpec] = {}
    for r in root.items("templates", required=True):
        t = read_template(r)
        if t.name in templates:
            r.fail(f"duplicate template {t.name}", "name")
        templates[t.name] = t
    project_id = account.project_id if account else ""
    instances: list[InstanceSeed] = []
    seen: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for r in root.items("instances"):
        inst = read_instance(r, clusters, templates, project_id)
        if (inst.cluster_id, inst.template) in seen:
            r.fail(f"{inst.template} is already installed on cluster {inst.cluster_id}", "template")
        if inst.id in ids:
            r.fail(f"duplicate instance id {inst.id}", "id")
        seen.add((inst.cluster_id, inst.template))
        ids.add(inst.id)
        instances.append(inst)
    return Scenario(
        clusters=tuple(clusters.values()),
        templates=tuple(templates.values()),
        instances=tuple(instances),
        precheck_rules=tuple(read_precheck_rule(r, clusters) for r in root.items("precheck_rules")),
        failure_rules=tuple(read_failure_rule(r, clusters) for r in root.items("failure_rules")),
        abnormal_rules=tuple(read_abnormal_rule(r, clusters)
                             for r in root.items("abnormal_rules")),
        timing=timing,
        account=account,
        source=source,
    )


def load_rules(path: str | Path, scenario: Scenario) -> Scenario:
    """``scenario`` with the ``failure_rules``, ``precheck_rules`` and
    ``abnormal_rules`` of the YAML file ``path`` appended (``emulator serve
    --rules``): faults on demand without copying a whole scenario. Clusters are
    named as in the scenario. An empty file adds no rules."""
    path = Path(path)
    data = _read_yaml(path, "rules")
    if data is None:  # an emptied file: every rule lifted
        return scenario
    root = Reader(str(path), "", data)
    root.check_keys({"precheck_rules", "failure_rules", "abnormal_rules"})
    clusters = {c.id: c for c in scenario.clusters}
    return replace(
        scenario,
        precheck_rules=scenario.precheck_rules
        + tuple(read_precheck_rule(r, clusters) for r in root.items("precheck_rules")),
        failure_rules=scenario.failure_rules
        + tuple(read_failure_rule(r, clusters) for r in root.items("failure_rules")),
        abnormal_rules=scenario.abnormal_rules
        + tuple(read_abnormal_rule(r, clusters) for r in root.items("abnormal_rules")),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    return scenario_from_mapping(_read_yaml(path, "scenario"), str(path))


def _read_yaml(path: Path, what: str) -> JSON:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a {what} YAML file: byte {exc.start} is not UTF-8"
                            " text") from None
    try:
        data: JSON = yaml.safe_load(text)
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        raise ScenarioError(f"{path}: invalid YAML: {exc}".split(";")[0]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{where}: invalid YAML: {exc}") from exc
    return data
