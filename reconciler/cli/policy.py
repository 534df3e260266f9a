"""``--policy``: the operator's Rego policies on plan and apply (docs/policy.md).

Policies are operator configuration: they come from ``--policy`` or
``RECONCILER_POLICY`` only, never from a desired-state file. ``plan`` shows their
results and exits 1 on a denial; ``apply`` refuses before any write; ``apply
PLAN`` re-evaluates the saved plan and refuses when the policy set is not the
one it was planned with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.exits import fail
from reconciler.model.plan import Plan
from reconciler.planfile.codec import plan_to_json
from reconciler.policy import (
    DEFAULT_NAMESPACE,
    PolicyError,
    PolicySet,
    evaluate,
    load_policies,
    policy_input,
    unused_acceptances,
)

__all__ = [
    "PolicyFlags",
    "check_saved_plan_policy",
    "denial_text",
    "evaluate_plan",
    "flags_of",
    "policy_options",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class PolicyFlags:
    """``--policy``, ``--policy-namespace`` and ``--accept-policy`` as given."""

    paths: tuple[Path, ...] = ()
    namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)
    accept: tuple[str, ...] = ()

    def load(self) -> PolicySet | None:
        """The policy set, checked before anything is read or sent; None without ``--policy``."""
        if not self.paths:
            if self.accept:
                fail("--accept-policy needs --policy (or RECONCILER_POLICY): there is no"
                     " policy to override")
            return None
        try:
            return load_policies(self.paths, self.namespaces)
        except PolicyError as err:
            fail(str(err))


def policy_options(command: F) -> F:
    """Add ``--policy``, ``--policy-namespace`` and ``--accept-policy`` (read them
    back with ``flags_of``)."""

    options = [
        click.option(
            "--policy", "policy_paths", multiple=True, envvar="RECONCILER_POLICY",
            type=click.Path(path_type=Path), metavar="DIR",
            help="Rego policies to check the plan against (repeatable; a directory or a .rego"
                 " file; RECONCILER_POLICY: paths separated by ':'). deny/violation rules fail,"
                 " warn rules are shown (docs/policy.md)."),
        click.option(
            "--policy-namespace", "policy_namespaces", multiple=True,
            envvar="RECONCILER_POLICY_NAMESPACE", metavar="PACKAGE",
            help=f"Rego package(s) whose rules are evaluated (repeatable; default"
                 f" {DEFAULT_NAMESPACE})."),
        click.option(
            "--accept-policy", "accept_policies", multiple=True, metavar="RULE_OR_MESSAGE",
            help="Override a policy denial, named by its rule (deny_prod_delete or"
                 " main.deny_prod_delete) or its exact message (repeatable; apply records it"
                 " in the journal)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def flags_of(kwargs: dict[str, Any]) -> PolicyFlags:
    """Pop the policy options from a command's keyword arguments."""
    return PolicyFlags(
        paths=tuple(kwargs.pop("policy_paths", ()) or ()),
        namespaces=tuple(kwargs.pop("policy_namespaces", ()) or ()) or (DEFAULT_NAMESPACE,),
        accept=tuple(kwargs.pop("accept_policies", ()) or ()),
    )


def evaluate_plan(plan: Plan, salts: Mapping[str, str], policy_set: PolicySet,
                  accept: Sequence[str]) -> Plan:
    """``plan`` with its policy report; warns about ``--accept-policy`` words that
    named no denial. A runtime error of a policy ends the command (exit 1)."""
    document = policy_input(plan_to_json(dataclasses.replace(plan, policy=None), salts=salts))
    try:
        report = evaluate(policy_set, document, accept)
    except PolicyError as err:
        fail(str(err))
    for word in unused_acceptances(report, accept):
        click.echo(f"warning: --accept-policy {word!r} names no policy denial of this plan",
                   err=True)
    return dataclasses.replace(plan, policy=report)


def check_saved_plan_policy(plan: Plan, policy_set: PolicySet | None,
                            accept: Sequence[str]) -> Plan:
    """Re-evaluate a saved plan's policies; exit 1 when the policy set changed since
    the plan was made (or is missing now), or when a denial is not accepted."""
    recorded = plan.policy
    if recorded is None and policy_set is None:
        return plan
    if recorded is None:
        fail("the plan was made without --policy, and this apply runs with policies: plan"
             " again with the same --policy, so that the reviewed plan shows their results")
    if policy_set is None:
        fail(f"the plan was checked against a policy set ({recorded.digest}) and this apply"
             " runs without one: give the same --policy (or RECONCILER_POLICY)")
    if policy_set.digest != recorded.digest:
        fail(f"the policies changed since the plan was made (planned with {recorded.digest},"
             f" now {policy_set.digest}): plan again with these policies and review the result")
    checked = evaluate_plan(plan, {}, policy_set, accept)
    if checked.policy_denied:
        click.echo(denial_text(checked), err=True, nl=False)
        raise SystemExit(1)
    return checked


def denial_text(plan: Plan) -> str:
    """Why the plan is refused, and the flag that overrides each denial (stderr lines)."""
    assert plan.policy is not None
    lines = [f"error: {len(plan.policy.denied)} policy denial(s):"]
    for result in plan.policy.denied:
        lines.append(f"  {result.qualified_rule}: {result.message}")
    rules = sorted({r.rule for r in plan.policy.denied})
    lines.append("Change the plan, or override (recorded in the journal) with "
                 + " ".join(f"--accept-policy {r}" for r in rules))
    return "".join(line + "\n" for line in lines)
