"""``reconciler history``: what happened to the fleet, from the journals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.cli.backend import open_state
from reconciler.cli.options import output_options, state_dir_option, state_option
from reconciler.statemgr.errors import StateError
from reconciler.views.history import (
    HistoryQuery,
    history_json,
    history_text,
    parse_since,
    select_records,
)

__all__ = ["history_command"]


@click.command("history")
@click.argument("cluster", required=False)
@click.option("--addon", metavar="NAME", help="Only the records of this add-on.")
@click.option("--since", metavar="DURATION",
              help="Only the records of the last DURATION: 30m, 24h, 7d (units s m h d w).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table, or every record in full as a JSON array.")
@state_dir_option
@state_option
@output_options
def history_command(cluster: str | None, addon: str | None, since: str | None, fmt: str,
                    state_dir: Path, state: str | None) -> None:
    """Show the journal of CLUSTER (or of every cluster) as a timeline, newest last:
    when, who (if recorded), what, which versions, the result and the plan id.

    Clusters whose state was forgotten (state rm) keep their journal and are
    shown too.

    \b
    Examples:
      reconciler history
      reconciler history demo-prod --addon coredns --since 7d
      reconciler history --since 24h --format json
    """
    query = HistoryQuery(addon=addon)
    if since is not None:
        try:
            query.since = datetime.now(UTC) - parse_since(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from exc
    backend = open_state(state, state_dir)
    try:
        names = backend.list_journals()
        if cluster is not None:
            if cluster not in names and cluster not in backend.list():
                known = ", ".join(names) or "none"
                raise click.ClickException(
                    f"no journal for cluster {cluster!r} in {backend.description}"
                    f" (clusters with a journal: {known})")
            names = [cluster]
        records = select_records(((name, backend.read_journal(name)) for name in names), query)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(history_json(records), nl=False)
        return
    click.echo(history_text(records, backend.description), nl=False)
