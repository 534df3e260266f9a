"""The ``validate`` command (``schema`` is in cli/templates.py: it reads templates).

``validate`` takes the same desired-state inputs as ``plan``/``apply``/``drift``
(``common_options(cloud=False)``); loading them is ``config.options``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import click

from reconciler.cli.options import CommonOptions, common_options
from reconciler.config.options import load_from_options
from reconciler.engine.checks import listing
from reconciler.engine.offline import OfflineCheck
from reconciler.engine.offline import check_values_offline as check_values_offline_for
from reconciler.model.desired import DesiredState
from reconciler.model.diagnostics import Diagnostic, InputError
from reconciler.model.rollout import assign_waves
from reconciler.run.templatecache import cache_dir, load_for
from reconciler.views.diagnostics import diagnostics_text, plural

__all__ = ["validate"]


@click.command()
@common_options(cloud=False)
def validate(opts: CommonOptions) -> None:
    """Check desired-state files without touching the network.

    Renders each file (Jinja2), parses it, validates it against the schema and
    checks references; prints every problem with file:line:column, or a summary.
    Needs no credentials and no secrets: an unset secret() variable is fine here,
    but env() and secret() read only what --allow-env allows, as in plan.
    Exit 0 when valid, 1 otherwise.

    \b
    Examples:
      reconciler validate examples/demo.yaml --var nameserver=10.0.0.3 --cluster demo-prod
      reconciler validate examples/multi-env/fleet.yaml \\
          --var-file examples/multi-env/prod.vars.yaml --allow-env AUTOSCALER_TOKEN
    """
    try:
        desired = load_from_options(
            [str(f) for f in opts.files],
            var_assignments=opts.variables,
            var_files=[str(f) for f in opts.var_files],
            clusters=opts.clusters,
            endpoint=opts.endpoint,
            # A lint job has no secrets: an unset secret() is a placeholder here, not an error.
            need_secrets=False,
            allowed_endpoints=opts.endpoint_rule,
            allowed_env=opts.env_rule,
        )
    except InputError as err:
        click.echo(diagnostics_text(err.diagnostics), err=True, nl=False)
        raise SystemExit(1) from None
    if desired.warnings:
        click.echo(diagnostics_text(desired.warnings), err=True, nl=False)
    offline = check_values_offline(opts, desired)
    if offline.problems:
        click.echo(diagnostics_text(offline.problems), err=True, nl=False)
        raise SystemExit(1)
    addons = sum(len(cluster.addons) for cluster in desired.clusters)
    clusters_text = plural(len(desired.clusters), "cluster")
    click.echo(
        f"{plural(len(desired.files), 'file')} valid: {clusters_text}, {plural(addons, 'add-on')}"
    )
    if desired.rollout is not None:
        # Which wave each cluster falls in is the first thing to check in a new rollout block.
        waves = assign_waves(desired.rollout, ((c.name, c.labels) for c in desired.clusters))
        counts = Counter(waves.values())
        click.echo("rollout: " + " → ".join(
            f"{wave.name} ({plural(counts[wave.name], 'cluster')})"
            for wave in desired.rollout.waves))
    if desired.profiles:
        # A profile's `clusters:` selector that matches nothing is not an error (the
        # fleet may not have such clusters yet), but it is worth seeing: "(no cluster)".
        used = Counter(name for cluster in desired.clusters for name in cluster.profiles)
        click.echo("profiles: " + ", ".join(
            f"{name} ({plural(used[name], 'cluster') if used[name] else 'no cluster'})"
            for name in desired.profiles))
    click.echo(offline.summary)


@dataclass
class _Offline:
    problems: list[Diagnostic]
    summary: str


def check_values_offline(opts: CommonOptions, desired: DesiredState) -> _Offline:
    """Plan's value checks against the templates the last plan of each endpoint
    kept (run/templatecache.py), and a summary line of what they covered."""
    found = OfflineCheck()
    directory = cache_dir(opts.state_dir.parent)
    unplanned: list[str] = []
    for spec in desired.clusters:
        cached = load_for(directory, spec)
        if cached is None:
            unplanned.append(spec.name)
            continue
        check_values_offline_for(spec, cached.templates,
                                 cached.clusters.get(spec.cluster_id), found)
    if desired.clusters and len(unplanned) == len(desired.clusters):
        return _Offline(problems=[], summary=(
            "values: not checked against the add-on templates: no plan has read them here "
            "yet (after one, validate checks value keys without network)"))
    said = [f"{plural(found.checked, 'add-on')} checked against the templates the last "
            "plan kept"]
    if unplanned:
        said.append(f"not checked for {listing(unplanned)}: no plan has read their "
                    "endpoint's templates here yet (plan once)")
    if found.skipped:
        said.append(f"not checked offline: {listing(found.skipped)}")
    return _Offline(problems=found.problems, summary="values: " + "; ".join(said))
