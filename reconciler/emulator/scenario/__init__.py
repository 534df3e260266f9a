"""Scenario files: the clusters, templates, instances and rules an emulator starts from.

The format is documented in ``docs/emulator.md``. Loading validates every key
and raises :class:`ScenarioError` naming the file and the key path.

One module per resource: ``reader`` (typed YAML access), ``clusters``,
``templates``, ``instances`` (seeds and failure rules), ``prechecks``,
``abnormal`` (add-ons that turn abnormal after a while) and
``loader`` (account, timing, the whole scenario). The names below are the
package's public surface.
"""

from __future__ import annotations

from reconciler.emulator.scenario.abnormal import AbnormalRule
from reconciler.emulator.scenario.clusters import ClusterSpec, NodeSpec, version_matches
from reconciler.emulator.scenario.instances import FailureRule, InstanceSeed
from reconciler.emulator.scenario.loader import (
    Account,
    Scenario,
    Timing,
    demo_scenario_path,
    generate_account,
    load_rules,
    load_scenario,
    scenario_from_mapping,
)
from reconciler.emulator.scenario.prechecks import PrecheckRule
from reconciler.emulator.scenario.reader import ScenarioError
from reconciler.emulator.scenario.templates import (
    TemplateSpec,
    TemplateVersionSpec,
    deep_merge,
    default_values,
)

__all__ = [
    "AbnormalRule",
    "Account",
    "ClusterSpec",
    "FailureRule",
    "InstanceSeed",
    "NodeSpec",
    "PrecheckRule",
    "Scenario",
    "ScenarioError",
    "TemplateSpec",
    "TemplateVersionSpec",
    "Timing",
    "deep_merge",
    "default_values",
    "demo_scenario_path",
    "generate_account",
    "load_rules",
    "load_scenario",
    "scenario_from_mapping",
    "version_matches",
]
