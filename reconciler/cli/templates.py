"""``reconciler values`` and the template side of ``reconciler schema``.

Both need the add-on templates: read from the endpoint of the FILEs given
(like plan: the file says endpoint, region, project and how to sign in), or,
without FILE (or with ``--offline``), from the catalogue the last plan of
that endpoint kept (run/templatecache.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.cli.exits import fail, load_or_exit
from reconciler.cli.inprocess import EmulatorServices
from reconciler.cli.options import CommonOptions, common_options
from reconciler.cloud import CloudError, CloudSession, Credentials
from reconciler.config.schemacheck import schema_text
from reconciler.engine import secrets
from reconciler.engine.checks import listing, version_key
from reconciler.engine.planner import target_version
from reconciler.engine.values import full_values, template_defaults
from reconciler.engine.valueschema import desired_state_with_values, values_schema
from reconciler.model.desired import AddonSpec, ClusterSpec
from reconciler.model.diagnostics import Severity
from reconciler.model.live import AddonTemplate, Cluster, LiveCluster, TemplateVersion
from reconciler.run.refresh import read_cluster, read_templates
from reconciler.run.templatecache import cache_dir, load_all, load_for, save
from reconciler.views.values import values_text

__all__ = ["schema", "values_command"]


@dataclass
class _Catalogue:
    templates: Mapping[str, AddonTemplate]
    spec: ClusterSpec | None = None
    live: LiveCluster | None = None
    where: str = ""


def _catalogue(opts: CommonOptions, offline: bool, cluster: str | None = None) -> _Catalogue:
    directory = cache_dir(opts.state_dir.parent)
    if not opts.files:
        if cluster is not None:
            fail("--cluster needs the desired-state FILE that declares it")
        cached = load_all(directory)
        if opts.endpoint:
            cached = [c for c in cached if c.endpoint == opts.endpoint]
        if not cached:
            fail(f"no add-on templates are cached in {directory}: give the desired-state "
                 "FILE (read from its endpoint, like plan), or run plan once")
        if len(cached) > 1:
            fail("templates of several endpoints are cached: choose one with --endpoint "
                 f"({listing(sorted({c.endpoint for c in cached}))}) or give a FILE")
        return _Catalogue(templates=cached[0].templates,
                          where=f"cached from {cached[0].endpoint} by the last plan")
    desired = load_or_exit(opts, clusters=[cluster] if cluster else None)
    if not desired.clusters:
        fail("the files declare no cluster: nothing says which endpoint to ask")
    spec = desired.clusters[0]
    if offline:
        found = load_for(directory, spec)
        if found is None:
            fail(f"no templates of {spec.endpoint} are cached in {directory}: run plan once, "
                 "or leave out --offline")
        return _Catalogue(templates=found.templates, spec=spec,
                          where=f"cached from {spec.endpoint} by the last plan")
    return _read_live(opts, spec, directory, with_cluster=cluster is not None)


def _read_live(opts: CommonOptions, spec: ClusterSpec, directory: Path,
               with_cluster: bool) -> _Catalogue:
    session = CloudSession(concurrency=2, credentials=Credentials.from_env(),
                           in_process=EmulatorServices(opts.state_dir.parent))

    async def read() -> tuple[object, object]:
        async with session:
            templates = await read_templates(session, spec)
            live = await read_cluster(session, spec) if with_cluster else None
            return templates, live

    try:
        templates, live = asyncio.run(read())
    except CloudError as err:
        fail(str(err))
    if isinstance(templates, CloudError):
        fail(f"cannot list the add-on templates of {spec.endpoint}: {templates}")
    assert isinstance(templates, Mapping)
    if with_cluster and not isinstance(live, LiveCluster):
        fail(getattr(live, "message", f"cannot read cluster {spec.name}"))
    clusters: list[Cluster] = [live.cluster] if isinstance(live, LiveCluster) else []
    with contextlib.suppress(OSError):  # only a cache
        save(directory, spec, templates, clusters)
    return _Catalogue(templates=templates, spec=spec,
                      live=live if isinstance(live, LiveCluster) else None,
                      where=f"read from {spec.endpoint}")


def _template(catalogue: _Catalogue, name: str) -> AddonTemplate:
    template = catalogue.templates.get(name)
    if template is None:
        close = difflib.get_close_matches(name, list(catalogue.templates), n=1)
        hint = f"did you mean {close[0]}?" if close else (
            f"templates: {listing(sorted(catalogue.templates))}")
        fail(f"no add-on template `{name}` ({catalogue.where}); {hint}")
    return template


def _version(template: AddonTemplate, version: str | None) -> TemplateVersion:
    if version is not None:
        found = template.version(version)
        if found is None:
            every = sorted((v.version for v in template.versions), key=version_key, reverse=True)
            fail(f"`{template.name}` has no version {version}; versions: {listing(every)}")
        return found
    ordered = sorted(template.versions, key=lambda v: (v.stable, version_key(v.version)))
    if not ordered:
        fail(f"`{template.name}` has no versions")
    return ordered[-1]


@click.command()
@click.option("--addon", "addon", default=None, metavar="NAME",
              help="Print the JSON Schema of this add-on's values instead.")
@click.option("--version", "version", default=None, metavar="V",
              help="With --addon: of this template version (default: the newest).")
@click.option("--with-values", is_flag=True,
              help="The desired-state schema with every template's values schema in it, "
                   "so an editor completes `values:` (needs templates, as --addon does).")
@click.option("--offline", is_flag=True,
              help="Use the templates the last plan kept even when FILE is given.")
@common_options(files_required=False, select=False)
def schema(opts: CommonOptions, addon: str | None, version: str | None,
           with_values: bool, offline: bool) -> None:
    """Print the JSON Schema of desired-state files (for editors and other tools).

    With --addon, the schema of one add-on's values (keys, types, defaults and
    flavor names of its template); with --with-values, the desired-state schema
    with those of every template. Templates come from the endpoint of FILE, or
    without FILE from the catalogue the last plan kept (.reconciler/templates/).

    \b
    Examples:
      reconciler schema > desired-state.schema.json
      reconciler schema --addon autoscaler --version 1.29.17 examples/demo.yaml
      reconciler schema --with-values examples/demo.yaml > desired-state.schema.json
    """
    if addon is None and not with_values:
        if version is not None:
            fail("--version goes with --addon")
        click.echo(schema_text(), nl=False)
        return
    catalogue = _catalogue(opts, offline)
    if addon is not None:
        template = _template(catalogue, addon)
        chosen = [_version(template, version)]
        document = values_schema(chosen, f"values of {template.name} {chosen[0].version}")
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **document}
    else:
        document = desired_state_with_values(json.loads(schema_text()), catalogue.templates)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.command("values")
@click.argument("name")
@common_options(files_required=False, select=False)
@click.option("--version", "version", default=None, metavar="V",
              help="This template version (default: the newest, or with --cluster the one "
                   "plan would choose).")
@click.option("--cluster", "cluster", default=None, metavar="NAME",
              help="The full values that would be sent to this declared cluster: template "
                   "defaults, then live, then the file's, each leaf with where it comes from.")
@click.option("--offline", is_flag=True,
              help="Use the templates the last plan kept even when FILE is given.")
def values_command(name: str, opts: CommonOptions, version: str | None, cluster: str | None,
                   offline: bool) -> None:
    """Show an add-on's values: what keys exist and what they default to.

    With --cluster (and the FILE declaring it), the full values apply would
    send to that cluster (defaults, then live, then desired), each leaf with
    its source. Sensitive values are never shown.

    \b
    Examples:
      reconciler values autoscaler examples/demo.yaml
      reconciler values autoscaler examples/demo.yaml --cluster demo-prod
      reconciler values coredns --version 1.28.7      # from the templates the last plan kept
    """
    if cluster is not None and offline:
        fail("--cluster reads the live cluster: leave out --offline")
    catalogue = _catalogue(opts, offline, cluster)
    template = _template(catalogue, name)
    if cluster is None:
        chosen = _version(template, version)
        click.echo(values_text(f"# {name} {chosen.version}: template defaults "
                               f"({catalogue.where})", template_defaults(chosen, None),
                               notes=_flavor_note(chosen)), nl=False)
        return
    assert catalogue.spec is not None and catalogue.live is not None
    spec, live = catalogue.spec, catalogue.live
    declared = spec.addon(name) or AddonSpec(name=name)
    instance = next((i for i in live.instances if i.template_name == name), None)
    if version is not None:
        chosen = _version(template, version)
    else:
        found, problems = target_version(spec, declared, template, live.cluster, instance)
        errors = [p for p in problems if p.severity is Severity.ERROR]
        if found is None or errors:
            fail("; ".join(p.message for p in problems) or f"no version of {name} fits")
        chosen = found
    live_values = instance.values if instance is not None else None
    live_version = template.version(instance.version) if instance is not None else None
    full = full_values(chosen, live_values, declared, live.cluster, spec.project_id,
                       live_version=live_version)
    hidden = secrets.sensitive_leaves(full.values, secrets.rules_for(declared))
    running = f", live {instance.version}" if instance is not None else ", not installed"
    title = f"# {name} {chosen.version} on {spec.name}{running}: the full values apply sends"
    click.echo(values_text(title, full.values, provenance=full.provenance,
                           sensitive=frozenset(hidden),
                           notes=_flavor_note(chosen, full.flavor)), nl=False)


def _flavor_note(version: TemplateVersion, chosen: str | None = None) -> tuple[str, ...]:
    presets = list(version.flavors)
    if not presets:
        return ()
    first = chosen or presets[0]
    return (f"flavor preset {first} (presets: {', '.join(presets)}; choose one with the "
            "add-on's `flavor:` key)",)
