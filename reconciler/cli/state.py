"""CLI commands of the state layer: ``state list|show|rm|mv|migrate|unmark-sensitive``
and ``force-unlock``."""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from pathlib import Path

import click

from reconciler.cli.backend import open_state, state_location
from reconciler.cli.exits import check_state_writable_or_exit
from reconciler.cli.options import (
    lock_timeout_option,
    output_options,
    state_dir_option,
    state_option,
)
from reconciler.engine.secrets import declared_paths
from reconciler.model.valuepaths import covers
from reconciler.statemgr.backend import StateBackend
from reconciler.statemgr.errors import StateError
from reconciler.statemgr.factory import open_backend
from reconciler.statemgr.local import LocalBackend
from reconciler.statemgr.lock import lock_is_held
from reconciler.statemgr.migrate import migrate
from reconciler.statemgr.paths import encode_cluster_name
from reconciler.statemgr.statefile import to_json
from reconciler.views.state import (
    Listed,
    last_records,
    migrate_text,
    render_state,
    state_list_json,
    state_list_text,
)

__all__ = ["force_unlock", "state"]

@click.group()
def state() -> None:
    """Inspect and edit the state files (what the reconciler last applied).

    \b
    Examples:
      reconciler state list --format json
      reconciler state show demo-prod
      reconciler state rm demo-prod everest
      reconciler state mv demo-legacy legacy
      reconciler state migrate --to migrated-state
    """


@state.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table, or one JSON document.")
@state_dir_option
@state_option
@output_options
def state_list(fmt: str, state_dir: Path, state: str | None) -> None:
    """List the clusters that have a state, with the cluster id each is bound to,
    and each managed add-on's version and last journaled result.

    Health is not read live here (reconciler drift does): LAST is what the
    journal last recorded for the add-on (upgraded, failed, adopted, ...).

    \b
    Examples:
      reconciler state list --state-dir .reconciler/state
      reconciler state list --format json
    """
    store = open_state(state, state_dir)
    try:
        listed = [Listed(store.read_existing(name), last_records(store.read_journal(name)))
                  for name in store.list()]
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(state_list_json(store.description, listed), nl=False)
        return
    click.echo(state_list_text(store.description, listed), nl=False)


@state.command("show")
@click.argument("cluster")
@click.option("--json", "as_json", is_flag=True, help="Print the state file's JSON.")
@state_dir_option
@state_option
@output_options
def state_show(cluster: str, as_json: bool, state_dir: Path, state: str | None) -> None:
    """Show what the reconciler last applied to CLUSTER (secrets are hashed).

    \b
    Example:
      reconciler state show demo-prod --json
    """
    try:
        current = open_state(state, state_dir).read_existing(cluster)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(to_json(current), nl=False)
        return
    click.echo(render_state(current))


@state.command("rm")
@click.argument("cluster")
@click.argument("addon", required=False)
@lock_timeout_option
@state_dir_option
@state_option
@output_options
def state_rm(
    cluster: str, addon: str | None, lock_timeout: float, state_dir: Path, state: str | None
) -> None:
    """Forget ADDON of CLUSTER, or without ADDON the whole state of CLUSTER;
    the installed add-ons themselves are left untouched.

    The next plan will propose to adopt or install it again if it is declared.
    Forgetting a whole state is the way out when CLUSTER's key now names
    another cluster id. The journal is kept, closed by a ``state rm`` record,
    so the cluster's history stays readable (reconciler history CLUSTER).

    \b
    Examples:
      reconciler state rm demo-prod everest
      reconciler state rm demo-prod
    """
    if addon is None:
        _forget_cluster(cluster, lock_timeout, open_state(state, state_dir))
        return
    store = open_state(state, state_dir)
    try:
        # Before the lock: an unknown cluster must not leave a stray lock file.
        store.read_existing(cluster)
        with store.lock(cluster, operation="state rm", timeout_s=lock_timeout):
            current = store.read_existing(cluster)
            if addon not in current.addons:
                managed = ", ".join(sorted(current.addons)) or "none"
                raise click.ClickException(
                    f"cluster {cluster!r} does not manage add-on {addon!r} (managed: {managed})"
                )
            written = store.remove_addon(current, addon)
            store.append_journal(cluster, {"action": "state rm", "addon": addon, "result": "ok",
                                           "serial": written.serial})
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Removed {addon} from the state of {cluster} (serial {written.serial}).")


@state.command("unmark-sensitive")
@click.argument("cluster")
@click.argument("addon")
@click.argument("path")
@lock_timeout_option
@state_dir_option
@state_option
@output_options
def state_unmark_sensitive(cluster: str, addon: str, path: str, lock_timeout: float,
                           state_dir: Path, state: str | None) -> None:
    """Stop hiding PATH (and every path under it) of ADDON of CLUSTER.

    A value path that was ever sensitive (applied from secret(), or by its
    key name or a sensitive: declaration) stays hidden in plans, drift and
    show whatever the files say now, so a pull request that drops secret()
    can't print the secret still running. When the value there is no secret
    any more (it was replaced and applied), clear it here; the next apply
    records the value in clear. Journalled. (The example assumes
    examples/multi-env/fleet.yaml was applied with its staging var file.)

    \b
    Example:
      reconciler state unmark-sensitive demo-staging autoscaler custom.password
    """
    store = open_state(state, state_dir)
    try:
        store.read_existing(cluster)
        with store.lock(cluster, operation="state unmark-sensitive", timeout_s=lock_timeout):
            current = store.read_existing(cluster)
            record = current.addons.get(addon)
            if record is None:
                managed = ", ".join(sorted(current.addons)) or "none"
                raise click.ClickException(
                    f"cluster {cluster!r} does not manage add-on {addon!r} (managed: {managed})")
            # Either list-index spelling: custom.list[0] or custom.list.0.
            spellings = declared_paths([path])
            cleared = [p for p in record.sensitive_paths
                       if any(covers(given, p) for given in spellings)]
            if not cleared:
                known = ", ".join(record.sensitive_paths) or "none"
                raise click.ClickException(
                    f"{cluster}/{addon}: no sensitive path at or under {path!r}"
                    f" (sensitive paths: {known})")
            kept = tuple(p for p in record.sensitive_paths if p not in cleared)
            written = store.put_addon(current, dataclasses.replace(record, sensitive_paths=kept))
            store.append_journal(cluster, {"action": "state unmark-sensitive", "addon": addon,
                                           "paths": cleared, "result": "ok",
                                           "serial": written.serial})
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{cluster}/{addon}: no longer sensitive: {', '.join(cleared)}"
               f" (serial {written.serial}); the next apply records the value in clear.")


def _forget_cluster(cluster: str, lock_timeout: float, backend: StateBackend) -> None:
    try:
        with backend.lock(cluster, operation="state rm", timeout_s=lock_timeout):
            current = backend.read_existing(cluster)
            backend.remove(cluster)
            # The journal is kept (the audit trail); this record closes it.
            backend.append_journal(cluster, {
                "action": "state rm", "cluster_id": current.cluster_id,
                "lineage": current.lineage, "serial": current.serial,
                "addons": sorted(current.addons), "result": "ok"})
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    names = ", ".join(sorted(current.addons)) or "no add-ons"
    click.echo(f"Forgot the state of {cluster} (cluster {current.cluster_id or '-'}: {names});"
               " the add-ons themselves are untouched, and its journal is kept"
               f" (reconciler history {cluster}).")


@state.command("migrate")
@click.option("--to", "to", required=True, metavar="URL",
              help="The backend to copy to: a path, s3://BUCKET/PREFIX?… or postgres://…")
@lock_timeout_option
@state_dir_option
@state_option
@output_options
def state_migrate(to: str, lock_timeout: float, state_dir: Path, state: str | None) -> None:
    """Copy every cluster's state and journal to another backend.

    Each cluster is copied under its lock on both sides and read back to
    verify it; a re-run skips what is already there and brings forward a
    target that fell behind. A target holding another lineage is refused
    (remove that state first): which copy is right is yours to decide.
    Then point --state / RECONCILER_STATE at the new backend.

    \b
    Example:
      reconciler state migrate --to migrated-state
    """
    source = open_state(state, state_dir)
    try:
        target = open_backend(to)
    except StateError as err:
        raise click.ClickException(f"--to: {err}") from err
    click.get_current_context().call_on_close(target.close)
    check_state_writable_or_exit(target, "--to")
    if target.identity == source.identity and target.identity != "local":
        raise click.ClickException("--to names the backend the state already lives in")
    try:
        results = migrate(source, target, lock_timeout_s=lock_timeout)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(migrate_text(state_location(state, state_dir), to, results))


@state.command("mv")
@click.argument("old")
@click.argument("new")
@lock_timeout_option
@state_dir_option
@state_option
@output_options
def state_mv(old: str, new: str, lock_timeout: float, state_dir: Path, state: str | None) -> None:
    """Rename the state of cluster OLD to NEW (after renaming its key in the files).

    The state, its backup and its journal move together, under both
    clusters' locks; NEW must not have a state or journal yet.

    \b
    Example:
      reconciler state mv demo-legacy legacy
    """
    if old == new:
        raise click.ClickException(f"OLD and NEW are both {old!r}: nothing to move")
    backend = open_state(state, state_dir)
    try:
        # Before the locks: an unknown OLD or an impossible NEW must not leave
        # stray lock files behind.
        encode_cluster_name(new)
        backend.read_existing(old)
        with ExitStack() as held:
            # Both locks, always in the same order, so two moves can't deadlock.
            for name in sorted((old, new)):
                held.enter_context(
                    backend.lock(name, operation="state mv", timeout_s=lock_timeout))
            backend.read_existing(old)
            moved = backend.move(old, new)
            backend.append_journal(new, {"action": "state mv", "from": old, "to": new,
                                         "result": "ok", "serial": moved.serial})
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Moved the state of {old} to {new} (cluster {moved.cluster_id or '-'}, "
               f"{len(moved.addons)} add-on(s), serial {moved.serial}).")


@click.command("force-unlock")
@click.argument("cluster")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@state_dir_option
@state_option
@output_options
def force_unlock(cluster: str, yes: bool, state_dir: Path, state: str | None) -> None:
    """Break the lock of CLUSTER left by a run that is gone or hung.

    A crashed run releases its lock by itself; use this only when a run hangs
    or its host is gone. A run still holding the lock would no longer be
    excluded. A cluster nobody holds is left alone: "not locked; nothing to
    unlock", exit 0 (exit 1 only for a cluster with no state and no lock).

    \b
    Example:
      reconciler force-unlock demo-prod --yes
    """
    store = open_state(state, state_dir)
    try:
        if not _is_locked(store, cluster):
            if cluster not in store.list():
                known = ", ".join(store.list()) or "none"
                raise click.ClickException(f"no state or lock for cluster {cluster!r} in"
                                           f" {store.description} (clusters: {known})")
            # Exit 0: the cluster is in the state the user asked for (a script's
            # `force-unlock X --yes` before a run must not fail on a free lock).
            click.echo(f"Cluster {cluster} is not locked; nothing to unlock"
                       f"{_last_holder(store, cluster)}.")
            return
        holder = store.lock_info(cluster)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if not yes:
        whom = f" held by {holder.describe()}" if holder else ""
        click.confirm(f"Break the lock of cluster {cluster!r}{whom}?", abort=True)
    try:
        holder = store.force_unlock(cluster)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if holder is None:
        click.echo(f"Unlocked {cluster}; no holder was recorded.")
        return
    gone = " (that process is no longer running)" if holder.holder_is_gone() else ""
    click.echo(f"Unlocked {cluster}; it was held by {holder.describe()}{gone}.")


def _is_locked(store: StateBackend, cluster: str) -> bool:
    """Whether a run holds CLUSTER's lock now. Remote locks record their holder
    with the lock itself; a local lock is the flock of a file that outlives
    every run, so the flock is probed (lock_is_held)."""
    if isinstance(store, LocalBackend):
        return lock_is_held(store.store.paths(cluster))
    return store.lock_info(cluster) is not None


def _last_holder(store: StateBackend, cluster: str) -> str:
    """A local lock's leftover holder record (its holder died before removing
    it), said so it is not mistaken for a live holder."""
    if not isinstance(store, LocalBackend):
        return ""
    info = store.lock_info(cluster)
    return f" (last held by {info.describe()})" if info is not None else ""
