"""``reconciler plan`` and ``reconciler show``."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.backend import apply_hint, open_state, state_location
from reconciler.cli.exits import (
    accept_risks_or_exit,
    check_writable_or_exit,
    desired_endpoints,
    fail,
    load_or_exit,
    preflight_or_exit,
)
from reconciler.cli.options import (
    CommonOptions,
    FiniteFloat,
    common_options,
    output_options,
    use_color,
)
from reconciler.cli.policy import denial_text, evaluate_plan, flags_of, policy_options
from reconciler.cli.session import session_with_progress
from reconciler.cloud import CloudError
from reconciler.model.desired import DesiredState
from reconciler.model.live import Cluster
from reconciler.planfile import PlanFileError, load_plan_with_digest, save_plan
from reconciler.planfile.codec import plan_to_json
from reconciler.run.plan import plan_flow
from reconciler.run.prechecks import DEFAULT_PRECHECK_TIMEOUT_S
from reconciler.run.templatecache import cache_dir, save_live
from reconciler.views import render_plan
from reconciler.views.diagnostics import plan_errors_text, precheck_blocked_text

__all__ = ["FORMATS", "declared_addons", "plan_command", "show_command"]

FORMATS = click.Choice(["text", "markdown", "json"])


@click.command("plan")
@common_options()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Save the plan (JSON) for `reconciler apply PLANFILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, state-only refreshes included"
                   " (0 none, 1 error).")
@click.option("--precheck", is_flag=True,
              help="Also run the server add-on prechecks and show their risks; a change"
                   " they block (a Fatal risk, a Warning not accepted) exits 1, saying what"
                   " to do.")
@click.option("--precheck-timeout", type=FiniteFloat(min=1),
              default=DEFAULT_PRECHECK_TIMEOUT_S, show_default=True, metavar="SECONDS",
              help="How long a server precheck may take; an unfinished one blocks.")
@click.option("--accept-risk", "accept_risks", multiple=True, metavar="CLUSTER/ADDON:RISK",
              help="Treat a Warning risk as accepted (repeatable).")
@click.option("--show-provenance", is_flag=True,
              help="Show where each value comes from (default, live, desired, "
                   "profile:NAME, derived).")
@click.option("--refresh-only", is_flag=True,
              help="Only accept out-of-band changes of managed add-ons into the state "
                   "(state-only `refresh`; nothing is ever sent to the cloud).")
@policy_options
def plan_command(
    opts: CommonOptions,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    precheck: bool,
    precheck_timeout: float,
    accept_risks: Sequence[str],
    show_provenance: bool,
    refresh_only: bool,
    **policy_flags: Any,
) -> None:
    """Show what apply would change, without changing anything.

    \b
    Examples:
      reconciler plan examples/demo.yaml
      reconciler plan examples/demo.yaml --format markdown --out demo.plan.json
      reconciler plan examples/demo.yaml --var nameserver=10.0.0.3 --cluster demo-prod \\
          --detailed-exitcode
      reconciler plan examples/demo.yaml --addon coredns --precheck --precheck-timeout 60
      reconciler plan examples/demo.yaml --policy examples/policies \\
          --accept-policy deny_delete_in_prod
    """
    policy = flags_of(policy_flags)
    policy_set = policy.load()
    desired = load_or_exit(opts)
    # Everything that can be known before a request is sent is checked first.
    accept_risks_or_exit(accept_risks, declared_addons(desired))
    preflight_or_exit(desired_endpoints(desired))
    if out is not None:
        check_writable_or_exit(out, "--out")
    location = state_location(opts.state, opts.state_dir, desired.state_url)
    store = open_state(opts.state, opts.state_dir, desired.state_url)
    try:
        with session_with_progress(opts) as session:
            result = asyncio.run(plan_flow(desired, session, store,
                                           precheck=precheck, accept_risks=accept_risks,
                                           refresh_only=refresh_only,
                                           precheck_timeout_s=precheck_timeout,
                                           targets=opts.addons))
    except CloudError as err:
        fail(str(err))
    remember_templates(opts, desired, result.templates, result.clusters)
    # Bound to the store it was planned against: apply refuses it on another,
    # and opens a remote one itself (its URL holds no credentials).
    plan = dataclasses.replace(result.plan, state_backend=store.identity,
                               state_url="" if store.identity == "local" else location)
    if policy_set is not None:
        plan = evaluate_plan(plan, result.salts, policy_set, policy.accept)
    data = plan_to_json(plan, salts=result.salts)
    if out is not None:
        try:
            digest = save_plan(out, plan, salts=result.salts)
        except OSError as err:
            fail(f"--out {out}: cannot write the plan: {err.strerror or err}")
        hint = apply_hint(out, store, location, opts.endpoint_rule)
        click.echo(f"Saved the plan to {out} (digest {digest}); apply it with: {hint}", err=True)
    click.echo(
        render_plan(data, fmt, color=opts.color, show_provenance=show_provenance),
        nl=False,
    )
    if result.plan.has_errors:
        click.echo(plan_errors_text(result.plan), err=True, nl=False)
        raise SystemExit(1)
    if plan.policy_denied:
        click.echo(denial_text(plan), err=True, nl=False)
        raise SystemExit(1)
    blocked = precheck_blocked_text(result.plan)
    if blocked:
        # Known to fail at apply time: a CI job must not pass on it.
        click.echo(blocked, err=True, nl=False)
        raise SystemExit(1)
    if detailed_exitcode and result.plan.has_changes:
        raise SystemExit(2)


def remember_templates(opts: CommonOptions, desired: DesiredState,
                       templates: Mapping[str, object], clusters: Mapping[str, Cluster]) -> None:
    """Keep the catalogues read for ``validate``, ``schema`` and ``values``
    without network. Only a cache: failing to write it never fails the plan."""
    try:
        save_live(cache_dir(opts.state_dir.parent), desired.clusters, templates, clusters)
    except OSError as err:
        click.echo(f"note: could not keep the template catalogue for offline use: "
                   f"{err.strerror or err}", err=True)


def declared_addons(desired: DesiredState) -> dict[str, list[str]]:
    """Cluster → declared add-on names: what ``--accept-risk`` may name."""
    return {spec.name: [a.name for a in spec.addons] for spec in desired.clusters}


@click.command("show")
@click.argument("planfile", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@output_options
@click.option("--show-provenance", is_flag=True)
def show_command(planfile: Path, fmt: str, no_color: bool, show_provenance: bool) -> None:
    """Render a saved plan file (refused if it was changed after it was written).

    \b
    Example:
      reconciler show demo.plan.json --format markdown
    """
    try:
        plan, digest = load_plan_with_digest(planfile)
    except PlanFileError as err:
        fail(str(err))
    # On stderr, so stdout stays the rendering; a reviewer compares it with plan --out's.
    click.echo(f"Plan {planfile} (digest {digest})", err=True)
    # A saved plan holds no secret in clear, so it needs no salts to re-render.
    data = plan_to_json(plan, salts={})
    click.echo(
        render_plan(data, fmt, color=use_color(no_color), show_provenance=show_provenance),
        nl=False,
    )
