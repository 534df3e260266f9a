"""CLI commands of the state layer: ``state list|show|rm`` and ``force-unlock``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from reconciler.model.state import StateFile
from reconciler.statemgr.errors import StateError
from reconciler.statemgr.journal import Journal
from reconciler.statemgr.statefile import to_json
from reconciler.statemgr.store import DEFAULT_STATE_DIR, StateStore

__all__ = ["force_unlock", "lock_timeout_option", "state", "state_dir_option"]

F = TypeVar("F", bound=Callable[..., Any])


def state_dir_option(command: F) -> F:
    """``--state-dir``, shared by every command that touches state."""
    option = click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_STATE_DIR,
        show_default=True,
        envvar="RECONCILER_STATE_DIR",
        help="Directory of the per-cluster state files, journals and locks.",
    )
    return option(command)


def lock_timeout_option(command: F) -> F:
    """``--lock-timeout``, shared by every command that takes a cluster's lock."""
    option = click.option(
        "--lock-timeout",
        type=float,
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for a cluster's lock (0: fail at once if it is held).",
    )
    return option(command)


@click.group()
def state() -> None:
    """Inspect and edit the state files (what the reconciler last applied).

    \b
    Examples:
      reconciler state list
      reconciler state show prod
      reconciler state rm prod coredns
    """


@state.command("list")
@state_dir_option
def state_list(state_dir: Path) -> None:
    """List the clusters that have a state file.

    \b
    Example:
      reconciler state list --state-dir .reconciler/state
    """
    store = StateStore(state_dir)
    names = store.list()
    if not names:
        click.echo(f"No state files in {state_dir}.")
        return
    rows = [("CLUSTER", "SERIAL", "LINEAGE", "ADD-ONS")]
    for name in names:
        current = _read(store, name)
        rows.append((name, str(current.serial), current.lineage[:8], str(len(current.addons))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@state.command("show")
@click.argument("cluster")
@click.option("--json", "as_json", is_flag=True, help="Print the state file's JSON.")
@state_dir_option
def state_show(cluster: str, as_json: bool, state_dir: Path) -> None:
    """Show what the reconciler last applied to CLUSTER (secrets are hashed).

    \b
    Example:
      reconciler state show prod --json
    """
    current = _read(StateStore(state_dir), cluster)
    if as_json:
        click.echo(to_json(current), nl=False)
        return
    click.echo(_render_state(current))


@state.command("rm")
@click.argument("cluster")
@click.argument("addon")
@lock_timeout_option
@state_dir_option
def state_rm(cluster: str, addon: str, lock_timeout: float, state_dir: Path) -> None:
    """Forget ADDON of CLUSTER; the installed add-on itself is left untouched.

    The next plan will propose to adopt or install it again if it is declared.

    \b
    Example:
      reconciler state rm prod coredns
    """
    store = StateStore(state_dir)
    try:
        with store.lock(cluster, operation="state rm", timeout_s=lock_timeout):
            current = _read(store, cluster)
            if addon not in current.addons:
                managed = ", ".join(sorted(current.addons)) or "none"
                raise click.ClickException(
                    f"cluster {cluster!r} does not manage add-on {addon!r} (managed: {managed})"
                )
            written = store.remove_addon(current, addon)
            Journal(state_dir, cluster).append(
                {"action": "state rm", "addon": addon, "result": "ok", "serial": written.serial}
            )
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Removed {addon} from the state of {cluster} (serial {written.serial}).")


@click.command("force-unlock")
@click.argument("cluster")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@state_dir_option
def force_unlock(cluster: str, yes: bool, state_dir: Path) -> None:
    """Break the lock of CLUSTER left by a run that is gone or hung.

    A crashed run releases its lock by itself; use this only when a run hangs
    or its host is gone. A run still holding the lock would no longer be
    excluded.

    \b
    Example:
      reconciler force-unlock prod --yes
    """
    store = StateStore(state_dir)
    holder = store.lock_info(cluster)
    if not yes:
        whom = f" held by {holder.describe()}" if holder else ""
        click.confirm(f"Break the lock of cluster {cluster!r}{whom}?", abort=True)
    holder = store.force_unlock(cluster)
    if holder is None:
        click.echo(f"Unlocked {cluster}; no holder was recorded.")
        return
    gone = " (that process is no longer running)" if holder.holder_is_gone() else ""
    click.echo(f"Unlocked {cluster}; it was held by {holder.describe()}{gone}.")


def _read(store: StateStore, cluster: str) -> StateFile:
    try:
        current = store.read(cluster)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if current is None:
        known = ", ".join(store.list()) or "none"
        raise click.ClickException(
            f"no state for cluster {cluster!r} in {store.state_dir} (clusters: {known})"
        )
    return current


def _render_state(current: StateFile) -> str:
    lines = [
        f"cluster:  {current.cluster_name} (id {current.cluster_id or '-'},"
        f" project {current.project_id or '-'})",
        f"lineage:  {current.lineage}",
        f"serial:   {current.serial}",
        f"add-ons:  {len(current.addons)}",
    ]
    for name in sorted(current.addons):
        addon = current.addons[name]
        lines += [
            "",
            f"{name} {addon.version}",
            f"  uid:             {addon.uid}",
            f"  applied at:      {addon.applied_at}",
            f"  plan:            {addon.plan_id or '-'}",
            f"  values digest:   {addon.values_digest}",
            f"  precheck tasks:  {', '.join(addon.precheck_task_ids) or '-'}",
            f"  accepted risks:  {', '.join(addon.accepted_risks) or '-'}",
            "  values:",
        ]
        dumped = yaml.safe_dump(dict(addon.values), sort_keys=True, allow_unicode=True)
        lines += ["    " + line for line in dumped.rstrip("\n").splitlines()]
    return "\n".join(lines)
