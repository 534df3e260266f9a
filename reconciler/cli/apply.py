"""``reconciler apply`` and ``reconciler import``.

The flows are ``run.applyflow`` and ``run.imports``; these commands check the
inputs, run them, and write what ``views.apply`` makes of the outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

import click

from reconciler.apply.importer import ImportFailed
from reconciler.cli.backend import open_plan_state, open_state
from reconciler.cli.exits import (
    accept_risks_or_exit,
    check_state_writable_or_exit,
    desired_endpoints,
    fail,
    load_or_exit,
    preflight_or_exit,
    register_plan_secrets,
)
from reconciler.cli.notify import NotifyingWaves, notifier_of, notify_options
from reconciler.cli.options import (
    ARGV_KEY,
    CommonOptions,
    FiniteFloat,
    common_options,
    lock_timeout_option,
)
from reconciler.cli.plan import FORMATS, declared_addons
from reconciler.cli.policy import (
    check_saved_plan_policy,
    evaluate_plan,
    flags_of,
    policy_options,
)
from reconciler.cli.session import open_session, session_with_progress
from reconciler.cloud import CloudError
from reconciler.engine.secrets import rules_for
from reconciler.model.apply import ApplyStopped, Progress
from reconciler.model.desired import DesiredState
from reconciler.model.plan import Plan
from reconciler.model.rollout import PauseMode, Rollout
from reconciler.model.rollout_result import RolloutProgress, RolloutResult
from reconciler.model.sensitive import NO_RULES
from reconciler.planfile import PlanFileError, load_plan, looks_like_plan_file
from reconciler.planfile.codec import plan_to_json
from reconciler.run.apply import ApplyOptions
from reconciler.run.applyflow import (
    FlowResult,
    apply_files,
    apply_options,
    apply_saved,
    check_plan_endpoints,
    check_plan_variables,
    plan_endpoint,
)
from reconciler.run.imports import ImportTarget, import_flow
from reconciler.run.plan import PlanResult
from reconciler.run.prechecks import DEFAULT_PRECHECK_TIMEOUT_S
from reconciler.run.rollout import (
    DEFAULT_SOAK_POLL_S,
    RolloutError,
    RolloutOptions,
    check_wave_name,
    waves_of,
)
from reconciler.statemgr import StateError
from reconciler.statemgr.backend import StateBackend
from reconciler.views import render_plan
from reconciler.views.apply import (
    APPROVAL_PROMPT,
    apply_result_json,
    apply_result_text,
    import_text,
    stopped_text,
)
from reconciler.views.diagnostics import plan_errors_text
from reconciler.views.progress import progress_for
from reconciler.views.rollout import WaveLines, rollout_json, rollout_summary, rollout_text

__all__ = ["apply_command", "import_command"]


@click.command("apply")
@common_options()
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="How the plan and the result are shown on stdout.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes'.")
@click.option("--accept-risk", "accept_risks", multiple=True, metavar="CLUSTER/ADDON:RISK",
              help="Let a Warning precheck risk pass (repeatable). Fatal risks always block.")
@lock_timeout_option
@click.option("--timeout", "addon_timeout", type=FiniteFloat(min=1), default=1800.0,
              show_default=True, metavar="SECONDS",
              help="How long an add-on may take to become healthy"
                   " (an add-on's `timeout` key overrides).")
@click.option("--precheck-timeout", type=FiniteFloat(min=1),
              default=DEFAULT_PRECHECK_TIMEOUT_S, show_default=True, metavar="SECONDS",
              help="How long a server precheck may take; an unfinished one blocks.")
@click.option("--abnormal-grace", type=FiniteFloat(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long an add-on may stay 'abnormal' before it fails.")
@click.option("--poll-interval", type=FiniteFloat(min=0.01), default=1.0, hidden=True,
              help="Seconds between polls of one task or instance (tests shorten it).")
@click.option("--refresh-only", is_flag=True,
              help="Only accept out-of-band changes of managed add-ons into the state; "
                   "nothing is sent to the cloud.")
@click.option("--pause", is_flag=True,
              help="With a `rollout:` block: stop after each wave that changed something"
                   " (exit 0), as `pause: manual` does; run apply again to go on.")
@click.option("--wave", "until_wave", default="", metavar="NAME",
              help="With a `rollout:` block: run the waves up to and including NAME.")
@click.option("--soak-poll-interval", type=FiniteFloat(min=0.01),
              default=DEFAULT_SOAK_POLL_S, hidden=True,
              help="Seconds between health reads of a cluster while soaking (tests shorten it).")
@policy_options
@notify_options(repeat=False)
def apply_command(
    opts: CommonOptions,
    fmt: str,
    auto_approve: bool,
    accept_risks: Sequence[str],
    lock_timeout: float,
    addon_timeout: float,
    precheck_timeout: float,
    abnormal_grace: float,
    poll_interval: float,
    refresh_only: bool,
    pause: bool,
    until_wave: str,
    soak_poll_interval: float,
    **policy_flags: Any,
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
      reconciler apply examples/demo.yaml --auto-approve \\
          --accept-risk demo-staging/coredns:AddonStatus
      reconciler apply examples/demo.yaml --auto-approve --addon everest --cluster demo-prod
      reconciler plan examples/demo.yaml --out demo.plan.json
      reconciler apply demo.plan.json

    With a `rollout:` block the clusters are applied wave by wave: a wave
    must stay healthy for its `soak` and stay within its `max_failures`, or
    the rollout halts (exit 1) and a re-run resumes it (docs/rollout.md).

    \b
      reconciler apply fleet.yaml --auto-approve --pause
      reconciler apply fleet.yaml --auto-approve --wave canary

    With --policy, the plan is checked against the operator's Rego policies
    first; a denial refuses the apply before any write (docs/policy.md).

    \b
      reconciler apply examples/demo.yaml --policy examples/policies \\
          --accept-policy deny_delete_in_prod

    With --notify, the outcome (and each wave of a rollout) is sent to the
    operator's chat, mail or webhook targets (docs/notifications.md).

    \b
      reconciler apply examples/demo.yaml --auto-approve --notify json://localhost:9/
    """
    color = opts.color
    policy = flags_of(policy_flags)
    notifier = notifier_of(policy_flags)
    policy_set = policy.load()

    def progress() -> Progress:
        return progress_for(sys.stderr, color=color)

    rollout_options = RolloutOptions(pause=pause, until_wave=until_wave,
                                     soak_poll_s=soak_poll_interval)

    def waves() -> RolloutProgress:
        lines = WaveLines(sys.stderr)
        return lines if notifier is None else NotifyingWaves(lines, notifier)

    def check_rollout(rollout: Rollout | None) -> None:
        # Before anything is read or written: a typo'd wave must not run them all.
        if until_wave:
            try:
                check_wave_name(rollout, until_wave)
            except ValueError as err:
                fail(str(err))
        if pause and rollout is None:
            fail("--pause: there is no `rollout:` block, so there are no waves to pause between")

    def options(accepted: dict[str, dict[str, set[str]]]) -> ApplyOptions:
        return apply_options(
            accepted, parallelism=opts.parallelism, lock_timeout=lock_timeout,
            addon_timeout=addon_timeout, poll_interval=poll_interval,
            abnormal_grace=abnormal_grace, precheck_timeout=precheck_timeout,
        )

    # By content: a saved plan (even a corrupt one) is never read as desired state.
    if any(looks_like_plan_file(f) for f in opts.files):
        if len(opts.files) != 1:
            fail("a saved plan is applied alone: give only the plan file, or only"
                 " desired-state files")
        if refresh_only:
            fail("--refresh-only plans from the desired-state files; a saved plan is applied"
                 " as it was planned (save one with `plan --refresh-only --out`)")
        if opts.variables or opts.var_files or opts.clusters or opts.addons:
            fail("--var, --var-file, --cluster and --addon don't apply to a saved plan: it is"
                 " applied exactly as it was planned, with its own targets (--endpoint only"
                 " confirms one of its endpoints)")
        try:
            plan = load_plan(opts.files[0])
        except PlanFileError as err:
            fail(str(err))
        register_plan_secrets(plan, os.environ)
        store = open_plan_state(plan, opts.state, opts.state_dir, opts.endpoint_rule)
        check_state_writable_or_exit(store)
        if notifier is not None:
            notifier.store = store
        accepted = accept_risks_or_exit(accept_risks, planned_addons(plan))
        plan = check_saved_plan_policy(plan, policy_set, policy.accept)
        check_rollout(plan.rollout)
        if plan.rollout is not None:
            try:
                waves_of(plan)
            except RolloutError as err:
                fail(f"{opts.files[0]}: {err}")
        try:
            check_plan_endpoints(plan, opts.endpoint_rule, opts.endpoint)
            check_plan_variables(plan, opts.env_rule)
        except ValueError as err:
            fail(str(err))
        preflight_or_exit((plan_endpoint(cp), cp.region) for cp in plan.clusters)
        resume = _resume_saved(plan, opts.files[0])
        outcome = _run_or_exit(
            apply_saved(plan, open_session(opts), store, options(accepted), progress=progress,
                        rollout=rollout_options, waves=waves), resume)
    else:
        desired = load_or_exit(opts)
        check_rollout(desired.rollout)
        accepted = accept_risks_or_exit(accept_risks, declared_addons(desired))
        preflight_or_exit(desired_endpoints(desired))
        store = open_state(opts.state, opts.state_dir, desired.state_url)
        check_state_writable_or_exit(store)
        if notifier is not None:
            notifier.store = store

        def show(planned: PlanResult) -> None:
            plan = planned.plan
            if pause and plan.rollout is not None:
                # The plan shown says how this run goes: --pause overrides the block's.
                plan = dataclasses.replace(plan, rollout=dataclasses.replace(
                    plan.rollout, pause=PauseMode.MANUAL))
            shown = render_plan(plan_to_json(plan, salts=planned.salts), fmt, color=color)
            # In json format stdout is kept for the one result document.
            click.echo(shown.rstrip("\n") + "\n", nl=False, err=fmt == "json")
            if plan.has_errors:
                # As plan says them: on stderr, an unreachable endpoint once.
                click.echo(plan_errors_text(plan), err=True, nl=False)

        resume = _resume_files()
        outcome = _run_or_exit(
            apply_files(desired, open_session(opts), store, options(accepted),
                        accept_risks=accept_risks, show=show,
                        approve=(lambda: True) if auto_approve else _approved,
                        progress=progress, refresh_only=refresh_only,
                        targets=opts.addons, rollout=rollout_options, waves=waves,
                        check_policy=None if policy_set is None else (
                            lambda plan, salts: evaluate_plan(plan, salts, policy_set,
                                                              policy.accept))),
            resume)
    if notifier is not None:
        notifier.apply_finished(outcome)
    if isinstance(outcome, ApplyStopped):
        click.echo(stopped_text(outcome), err=True, nl=False)
        raise SystemExit(0 if outcome.ok else 1)
    if isinstance(outcome, RolloutResult):
        outcome = dataclasses.replace(outcome, resume_command=resume)
        _echo_rollout(outcome, fmt)
        raise SystemExit(0 if outcome.ok else 1)
    click.echo(apply_result_text(outcome, fmt), nl=False)
    raise SystemExit(0 if outcome.ok else 1)


def _echo_rollout(result: RolloutResult, fmt: str) -> None:
    if fmt == "json":
        document = {**apply_result_json(result.apply), "ok": result.ok,
                    "rollout": rollout_json(result)}
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    report = rollout_text(result)
    if fmt == "markdown":
        report = "```\n" + report + "```\n"
    click.echo("\n" + report + apply_result_text(result.apply, fmt,
                                                  summary=rollout_summary(result)), nl=False)


def _resume_files() -> str:
    """This command again, as typed, without ``--wave`` (going on means the next waves)."""
    argv = click.get_current_context().meta.get(ARGV_KEY)
    if argv is None:
        return ""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--wave":
            skip = True
        elif not arg.startswith("--wave="):
            kept.append(arg)
    return shlex.join(["reconciler", *kept])


def _resume_saved(plan: Plan, plan_file: object) -> str:
    # The clusters the saved plan changed make it stale: going on needs a new plan.
    files = shlex.join(plan.files) if plan.files else "FILE…"
    out = shlex.quote(str(plan_file))
    return f"reconciler plan {files} --out {out} && reconciler apply {out}"


def planned_addons(plan: Plan) -> dict[str, list[str]]:
    """Cluster → add-on names of a saved plan: what ``--accept-risk`` may name."""
    return {cp.name: [ch.addon for ch in cp.changes] for cp in plan.clusters}


def _run_or_exit(run: Coroutine[Any, Any, FlowResult], resume: str) -> FlowResult:
    """The flow's result; a stopping error as one line, exit 1; Ctrl-C or SIGTERM
    (a cancelled CI job) as one line saying how to resume, exit 130 / 143."""
    received: list[int] = []

    def terminate(signum: int, frame: object) -> None:
        # As Ctrl-C: asyncio cancels the flow, so its cleanups run (locks
        # released, state and journal written), instead of dying silently.
        received.append(signum)
        signal.raise_signal(signal.SIGINT)

    # Signal handlers can only be set from the main thread (not so in some embedders).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminate) if main else None
    # Set explicitly, whatever was inherited: a script's `apply &` starts with
    # SIGINT ignored, which would also mute SIGTERM (raised as SIGINT above),
    # and asyncio cancels the flow on SIGINT only over Python's own handler.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
    try:
        return asyncio.run(run)
    except (CloudError, RolloutError) as err:
        # Per-cluster failures are in the result; this is one that stops the run.
        fail(str(err))
    except KeyboardInterrupt:
        name = "SIGTERM" if received else "Ctrl-C (SIGINT)"
        click.echo(f"\nerror: apply stopped by {name}: what was written so far is recorded in"
                   " the state and journal. To resume, run "
                   f"{resume or 'the same apply'} (a rollout re-checks the wave it was"
                   " in before going on)", err=True)
        raise SystemExit(143 if received else 130) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def _approved() -> bool:
    click.echo(APPROVAL_PROMPT, err=True, nl=False)
    answer = sys.stdin.readline()
    return answer.strip() == "yes"


@click.command("import")
@click.argument("cluster")
@click.argument("addon")
@common_options(files_required=False, select=False)
@click.option("--region", default="", help="Region (without FILE, if the endpoint needs it).")
@lock_timeout_option
def import_command(
    cluster: str, addon: str, opts: CommonOptions, region: str, lock_timeout: float
) -> None:
    """Adopt a live add-on into CLUSTER's state without changing it.

    CLUSTER is a cluster name of the desired-state FILE…; without files, the
    cluster's existing state file gives its id and --endpoint says where it is.

    \b
    Examples:
      reconciler import demo-prod coredns examples/demo.yaml
      reconciler import demo-prod everest --endpoint emulator://demo
    """
    desired = load_or_exit(opts, clusters=(cluster,)) if opts.files else None
    store = open_state(opts.state, opts.state_dir, desired.state_url if desired else None)
    check_state_writable_or_exit(store)
    target = _import_target(cluster, addon, opts, region, store, desired)
    preflight_or_exit([(target.endpoint, target.region)])
    try:
        with session_with_progress(opts) as session:
            done = asyncio.run(
                import_flow(session, store, target, addon, lock_timeout_s=lock_timeout)
            )
    except (ImportFailed, StateError, CloudError) as err:
        fail(str(err))
    click.echo(import_text(cluster, addon, version=done.addon.version, uid=done.addon.uid,
                           serial=done.serial, already_managed=done.already_managed))


def _import_target(
    cluster: str, addon: str, opts: CommonOptions, region: str, store: StateBackend,
    desired: DesiredState | None,
) -> ImportTarget:
    """The cluster from the desired-state files, else from its state file and --endpoint."""
    if desired is not None:
        spec = next((c for c in desired.clusters if c.name == cluster), None)
        if spec is None:
            raise click.UsageError(f"cluster {cluster!r} is not declared in the given files")
        addon_spec = spec.addon(addon)
        return ImportTarget(
            cluster=cluster, cluster_id=spec.cluster_id, project_id=spec.project_id,
            endpoint=spec.endpoint, region=spec.region,
            sensitive_rules=rules_for(addon_spec) if addon_spec else NO_RULES,
        )
    try:
        state = store.read(cluster)
    except StateError as err:
        raise click.ClickException(str(err)) from None
    if state is None:
        known = ", ".join(store.list()) or "none"
        raise click.UsageError(
            f"no state for cluster {cluster!r} in {store.description} (clusters: {known});"
            " without FILE, CLUSTER must already have a state file: or give the"
            " desired-state files that declare it"
        )
    if not opts.endpoint:
        raise click.UsageError("without FILE, --endpoint is required (where CLUSTER is)")
    return ImportTarget(cluster=cluster, cluster_id=state.cluster_id,
                        project_id=state.project_id, endpoint=opts.endpoint, region=region)
