"""``reconciler apply`` and ``reconciler import``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Collection, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.apply.importer import ImportFailed, import_addon
from reconciler.apply.waiting import WaitPolicy
from reconciler.cli.options import (
    accept_risks_or_exit,
    desired_endpoints,
    desired_options,
    fail,
    load_or_exit,
    open_session,
    preflight_or_exit,
    use_color,
)
from reconciler.cli.plan import declared_addons
from reconciler.cloud import CloudError, CloudSession, endpoint_is_trusted
from reconciler.model.apply import ApplyResult
from reconciler.model.desired import DesiredState, default_endpoint
from reconciler.model.plan import ClusterPlan, Plan
from reconciler.planfile import PlanFileError, load_plan, looks_like_plan_file
from reconciler.planfile.codec import plan_to_json
from reconciler.run.apply import ApplyOptions, apply_plan, stale_plan_reasons
from reconciler.run.plan import make_plan
from reconciler.run.prechecks import DEFAULT_PRECHECK_TIMEOUT_S
from reconciler.statemgr import StateError, StateStore
from reconciler.views import render_plan
from reconciler.views.progress import progress_for

__all__ = ["apply_command", "import_command"]

FORMATS = click.Choice(["text", "markdown", "json"])


def _plan_endpoint(cp: ClusterPlan) -> str:
    # An empty endpoint is derived from the region; check where it really goes.
    return cp.endpoint or default_endpoint(cp.region)


def check_plan_endpoints(plan: Plan, confirmed: str | None) -> None:
    """A saved plan says where to send credentials, and nothing vouches for
    it (its digest can be recomputed by whoever edits it). Each endpoint must
    be trusted (``endpoint_is_trusted``) or be ``confirmed`` — given again
    with ``--endpoint``. Raises ``ValueError`` saying which and how."""
    endpoints = sorted({_plan_endpoint(cp) for cp in plan.clusters})
    if confirmed is not None and confirmed not in endpoints:
        raise ValueError(
            f"--endpoint {confirmed!r} is not an endpoint of the plan (it has: "
            f"{', '.join(endpoints) or 'none'}); a saved plan is applied where it was planned"
        )
    for cp in plan.clusters:
        where = _plan_endpoint(cp)
        if where != confirmed and not endpoint_is_trusted(where):
            raise ValueError(
                f"cluster {cp.name}: the plan's endpoint {where!r} is not a Huawei Cloud endpoint"
                " (https://*.myhuaweicloud.com or .eu), loopback or emulator://, so no credentials"
                f" are sent there; if it is yours, confirm it with --endpoint {where}"
            )


@click.command("apply")
@desired_options
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="How the plan and the result are shown on stdout.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes'.")
@click.option("--accept-risk", "accept_risks", multiple=True, metavar="CLUSTER/ADDON:RISK",
              help="Let a Warning precheck risk pass (repeatable). Fatal risks always block.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=0.0, show_default=True,
              metavar="SECONDS", help="Wait this long for a cluster locked by another run.")
@click.option("--timeout", "addon_timeout", type=click.FloatRange(min=1), default=1800.0,
              show_default=True, metavar="SECONDS",
              help="How long an add-on may take to become healthy (timeout_seconds overrides).")
@click.option("--precheck-timeout", type=click.FloatRange(min=1),
              default=DEFAULT_PRECHECK_TIMEOUT_S, show_default=True, metavar="SECONDS",
              help="How long a server precheck may take; an unfinished one blocks.")
@click.option("--abnormal-grace", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long an add-on may stay 'abnormal' before it fails.")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=1.0, hidden=True,
              help="Seconds between polls of one task or instance (tests shorten it).")
def apply_command(
    files: Sequence[Path],
    variables: Sequence[str],
    var_files: Sequence[Path],
    clusters: Sequence[str],
    endpoint: str | None,
    state_dir: Path,
    parallelism: int,
    no_color: bool,
    verbose: int,
    fmt: str,
    auto_approve: bool,
    accept_risks: Sequence[str],
    lock_timeout: float,
    addon_timeout: float,
    precheck_timeout: float,
    abnormal_grace: float,
    poll_interval: float,
) -> None:
    """Apply the changes of a plan: prechecks, writes with full values, health waits.

    FILE… are desired-state files (planned now, shown, and applied after you
    type 'yes'), or a single plan file written by `plan --out`, applied
    exactly as reviewed: refused if the state or the live add-ons changed since.
    Server prechecks always run; a blocked add-on is skipped with its
    dependents, and apply exits 1.

    \b
    Examples:
      reconciler apply examples/demo.yaml
      reconciler apply examples/demo.yaml --auto-approve --accept-risk prod-eu/coredns:AddonStatus
      reconciler plan examples/demo.yaml --out plans/demo.plan.json
      reconciler apply plans/demo.plan.json
    """
    color = use_color(no_color)
    # By content: a saved plan (even a corrupt one) is never read as desired state.
    if any(looks_like_plan_file(f) for f in files):
        if len(files) != 1:
            fail("a saved plan is applied alone: give only the plan file, or only"
                 " desired-state files")
        if variables or var_files or clusters:
            fail("--var, --var-file and --cluster don't apply to a saved plan: it is applied"
                 " exactly as it was planned (--endpoint only confirms one of its endpoints)")
        try:
            plan = load_plan(files[0])
        except PlanFileError as err:
            fail(str(err))
        accepted = accept_risks_or_exit(accept_risks, planned_addons(plan))
        try:
            check_plan_endpoints(plan, endpoint)
        except ValueError as err:
            fail(str(err))
        preflight_or_exit((_plan_endpoint(cp), cp.region) for cp in plan.clusters)
        options = _options(accepted, parallelism, lock_timeout, addon_timeout, poll_interval,
                           abnormal_grace, precheck_timeout)
        result = _run_or_exit(_apply_saved(plan, state_dir, options, color=color))
    else:
        desired = load_or_exit(files, variables, var_files, clusters, endpoint)
        accepted = accept_risks_or_exit(accept_risks, declared_addons(desired))
        preflight_or_exit(desired_endpoints(desired))
        options = _options(accepted, parallelism, lock_timeout, addon_timeout, poll_interval,
                           abnormal_grace, precheck_timeout)
        result = _run_or_exit(
            _apply_files(desired, state_dir, options, accept_risks, fmt=fmt, color=color,
                         auto_approve=auto_approve)
        )
    if result is None:
        raise SystemExit(0)
    _show_result(result, fmt)
    raise SystemExit(0 if result.ok else 1)




def planned_addons(plan: Plan) -> dict[str, list[str]]:
    """Cluster → add-on names of a saved plan: what ``--accept-risk`` may name."""
    return {cp.name: [ch.addon for ch in cp.changes] for cp in plan.clusters}


def _options(
    accepted: Mapping[str, Mapping[str, Collection[str]]],
    parallelism: int,
    lock_timeout: float,
    addon_timeout: float,
    poll_interval: float,
    abnormal_grace: float,
    precheck_timeout: float,
) -> ApplyOptions:
    return ApplyOptions(
        parallelism=parallelism,
        lock_timeout_s=lock_timeout,
        accept_risks=accepted,
        wait=WaitPolicy(
            timeout_s=addon_timeout, poll_interval_s=poll_interval, abnormal_grace_s=abnormal_grace
        ),
        precheck_timeout_s=precheck_timeout,
    )


def _run_or_exit(run: Coroutine[Any, Any, ApplyResult | None]) -> ApplyResult | None:
    try:
        return asyncio.run(run)
    except CloudError as err:
        # Per-cluster failures are in the result; this is one that stops the run.
        fail(str(err))


async def _apply_files(
    desired: DesiredState,
    state_dir: Path,
    options: ApplyOptions,
    accept_risks: Sequence[str],
    *,
    fmt: str,
    color: bool,
    auto_approve: bool,
) -> ApplyResult | None:
    store = StateStore(state_dir)
    async with open_session(state_dir, options.parallelism) as session:
        planned = await make_plan(desired, session, store, accept_risks=accept_risks)
        plan = planned.plan
        shown = render_plan(plan_to_json(plan, salts=planned.salts), fmt, color=color)
        # In json format stdout is kept for the one result document.
        click.echo(shown.rstrip("\n") + "\n", nl=False, err=fmt == "json")
        if not plan.has_changes:
            click.echo("Nothing to apply.", err=True)
            if plan.has_errors:
                raise SystemExit(1)
            return None
        if not auto_approve and not _approved():
            click.echo("Apply cancelled: nothing was changed.", err=True)
            raise SystemExit(1)
        return await _run(plan, session, store, planned.salts, options, color=color)


async def _apply_saved(
    plan: Plan, state_dir: Path, options: ApplyOptions, *, color: bool
) -> ApplyResult | None:
    store = StateStore(state_dir)
    async with open_session(state_dir, options.parallelism) as session:
        reasons = await stale_plan_reasons(plan, session, store)
        if reasons:
            for reason in reasons:
                click.echo(f"plan is stale: {reason}", err=True)
            click.echo("Nothing was changed. Plan again, review, and apply the new plan.",
                       err=True)
            raise SystemExit(1)
        if not plan.has_changes:
            click.echo("The plan has no changes: nothing to apply.", err=True)
            return None
        salts = {cp.name: cp.salt for cp in plan.clusters if cp.salt}
        return await _run(plan, session, store, salts, options, color=color)


async def _run(
    plan: Plan,
    session: CloudSession,
    store: StateStore,
    salts: Mapping[str, str],
    options: ApplyOptions,
    *,
    color: bool,
) -> ApplyResult:
    progress = progress_for(sys.stderr, color=color)
    try:
        return await apply_plan(
            plan, session, store, salts=salts, options=options, progress=progress
        )
    finally:
        progress.close()


def _approved() -> bool:
    click.echo(
        "Do you want to apply these changes? Only 'yes' will be accepted: ", err=True, nl=False
    )
    answer = sys.stdin.readline()
    return answer.strip() == "yes"


def _show_result(result: ApplyResult, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    problems = [
        (c.name, r) for c in result.clusters for r in c.addons if not r.outcome.ok
    ]
    lines = []
    for c in result.clusters:
        if c.error:
            lines.append(f"- {c.name}: not applied: {c.error}")
    for name, r in problems:
        lines.append(f"- {name}/{r.addon}: {r.action.value} {r.outcome.value}: {r.message}")
    if lines:
        header = "**Problems**" if fmt == "markdown" else "Problems:"
        click.echo("\n" + header + "\n" + "\n".join(lines))
    click.echo()
    click.echo(result.summary())


@click.command("import")
@click.argument("cluster")
@click.argument("addon")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE")
@click.option("--var-file", "var_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--endpoint", default=None, metavar="URL",
              help="Override the cluster's endpoint (required without FILE).")
@click.option("--region", default="", help="Region (without FILE, if the endpoint needs it).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".reconciler/state"), show_default=True)
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=0.0, show_default=True,
              metavar="SECONDS")
def import_command(
    cluster: str,
    addon: str,
    files: Sequence[Path],
    variables: Sequence[str],
    var_files: Sequence[Path],
    endpoint: str | None,
    region: str,
    state_dir: Path,
    lock_timeout: float,
) -> None:
    """Adopt a live add-on into CLUSTER's state without changing it.

    CLUSTER is a cluster name of the desired-state FILE…; without files, the
    cluster's existing state file gives its id and --endpoint says where it is.

    \b
    Examples:
      reconciler import prod-eu coredns examples/prod.yaml
      reconciler import demo-prod everest --endpoint emulator://demo
    """
    store = StateStore(state_dir)
    declared: tuple[str, ...] = ()
    if files:
        desired = load_or_exit(files, variables, var_files, (cluster,), endpoint)
        spec = next((c for c in desired.clusters if c.name == cluster), None)
        if spec is None:
            raise click.UsageError(f"cluster {cluster!r} is not declared in the given files")
        cluster_id, project_id, where, region = (
            spec.cluster_id, spec.project_id, spec.endpoint, spec.region
        )
        addon_spec = spec.addon(addon)
        declared = tuple(addon_spec.sensitive) if addon_spec else ()
    else:
        try:
            state = store.read(cluster)
        except StateError as err:
            raise click.ClickException(str(err)) from None
        if state is None or not endpoint:
            raise click.UsageError(
                "without FILE, CLUSTER must already have a state file and --endpoint is"
                " required; or give the desired-state files that declare CLUSTER"
            )
        cluster_id, project_id, where = state.cluster_id, state.project_id, endpoint
    preflight_or_exit([(where, region)])

    async def run() -> str:
        async with open_session(state_dir, 1) as session:
            client = session.client(where, region, project_id)
            done = await import_addon(
                client, store, cluster_name=cluster, cluster_id=cluster_id,
                project_id=project_id, addon=addon, declared_sensitive=declared,
                lock_timeout_s=lock_timeout,
            )
        if done.already_managed:
            return f"{cluster}/{addon} is already managed (instance {done.addon.uid})."
        return (f"Imported {cluster}/{addon} {done.addon.version} (instance {done.addon.uid})"
                f" into the state (serial {done.serial}); nothing was changed on the cluster.")

    try:
        click.echo(asyncio.run(run()))
    except (ImportFailed, StateError, CloudError) as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(1) from None
