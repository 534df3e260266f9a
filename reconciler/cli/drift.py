"""``reconciler drift``: plan mode for cron — refresh, compare, report, change nothing.

The flow is ``run.drift``; this command checks the inputs, runs it, and writes
the report ``views`` renders to stdout or ``--output``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import click

from reconciler.cli.backend import open_state
from reconciler.cli.exits import (
    check_writable_or_exit,
    desired_endpoints,
    fail,
    load_or_exit,
    preflight_or_exit,
)
from reconciler.cli.notify import notifier_of, notify_drift, notify_options
from reconciler.cli.options import CommonOptions, common_options
from reconciler.cli.session import session_with_progress
from reconciler.cloud import CloudError
from reconciler.masking.files import write_atomic
from reconciler.model.drift import DriftReport
from reconciler.run.drift import drift_flow
from reconciler.statemgr.backend import StateBackend
from reconciler.views.diagnostics import drift_errors_text
from reconciler.views.drift import DRIFT_FORMATS, render_drift
from reconciler.views.driftjson import drift_to_json
from reconciler.views.driftprom import render_failed_run_prometheus

__all__ = ["EXIT_DRIFT", "drift_command"]

EXIT_DRIFT = 2


@click.command("drift")
@common_options()
@click.option("--format", "fmt", type=click.Choice(DRIFT_FORMATS), default="text",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Write the report to PATH (atomically: a collector never reads half a file).")
@click.option("--inspect", is_flag=True,
              help="Also run the server's running-add-on inspection on managed add-ons.")
@notify_options(repeat=True)
def drift_command(opts: CommonOptions, fmt: str, output: Path | None, inspect: bool,
                  notify_repeat: float | None, **notify_flags: Any) -> None:
    """Report how live add-ons differ from the last apply and from the files,
    without changing anything. Exit 0 clean, 2 drift, 1 error.

    \b
    Examples:
      reconciler drift examples/demo.yaml
      reconciler drift examples/demo.yaml --format prometheus --output reconciler.prom
      reconciler drift examples/demo.yaml --inspect --format markdown --cluster demo-staging
      reconciler drift examples/demo.yaml --notify json://localhost:9/ --notify-repeat 24h

    With --notify, a drift that is new, changed or cleared since the last
    notified run is sent once (docs/notifications.md); unchanged drift stays
    quiet unless --notify-repeat says when to remind.
    """
    known: list[str] = []
    notifier = notifier_of(notify_flags)  # bad targets refused before anything runs
    if output is not None:
        check_writable_or_exit(output, "--output")
    try:
        report, store = _drift_or_exit(opts, inspect, known)
    except (SystemExit, click.ClickException):
        if output is not None and fmt == "prometheus":
            # A cron run that fails must still say so to the collector: a file
            # left from an earlier run would keep the success alert quiet.
            with contextlib.suppress(OSError):
                write_atomic(output, render_failed_run_prometheus(known, time.time()) + "\n",
                             mode=0o644)
        raise
    # Errors on stderr, each unreachable endpoint once: --output keeps the report
    # in a file, and a cron job's mail is its output.
    click.echo(drift_errors_text([(c.name, d) for c in report.clusters for d in c.errors
                                  if d.severity == "error"]), err=True, nl=False)
    color = opts.color and output is None
    text = render_drift(drift_to_json(report), fmt, color=color) + "\n"
    if output is not None:
        try:
            # 0644: a collector running as another user must read it.
            write_atomic(output, text, mode=0o644)
        except OSError as err:
            fail(f"--output {output}: cannot write the report: {err.strerror or err}")
        if opts.verbose:
            click.echo(f"Wrote the drift report to {output}", err=True)
    else:
        click.echo(text, nl=False)
    if notifier is not None:
        notify_drift(notifier, report, store, notify_repeat)
    if report.has_errors:
        raise SystemExit(1)
    if report.drifted:
        raise SystemExit(EXIT_DRIFT)


def _drift_or_exit(opts: CommonOptions, inspect: bool,
                   known: list[str]) -> tuple[DriftReport, StateBackend]:
    """The drift report and the store it read, or a one-line error and exit 1;
    ``known`` gets the names of the clusters to check as soon as they are known."""
    if opts.addons:
        # Drift watches every managed add-on; a targeted report would hide drift.
        fail("--addon targets plan and apply; drift always reports every add-on"
             " (filter its JSON output instead)")
    desired = load_or_exit(opts)
    known.extend(spec.name for spec in desired.clusters)
    preflight_or_exit(desired_endpoints(desired))
    # Read only, never locked: a cron drift never waits for (or blocks) an apply.
    store = open_state(opts.state, opts.state_dir, desired.state_url)
    try:
        with session_with_progress(opts) as session:
            return asyncio.run(drift_flow(desired, session, store, inspect=inspect)), store
    except CloudError as err:
        fail(str(err))
