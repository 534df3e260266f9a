"""``reconciler init``: write a desired-state file from what the clusters run."""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.exits import fail, preflight_or_exit
from reconciler.cli.options import (
    CommonOptions,
    output_options,
    state_dir_option,
)
from reconciler.cli.session import session_with_progress
from reconciler.cloud import CloudError
from reconciler.engine.onboard import Onboarded
from reconciler.kit.selectors import SelectorError, parse_pattern
from reconciler.masking.files import write_atomic
from reconciler.run.init import InitTarget, NoClusters, init_flow
from reconciler.views.initfile import init_file_text

__all__ = ["init_command"]

EXIT_DIFFERS = 2
"""The file exists and init would change it: the diff is shown, nothing written."""


@click.command("init")
@click.option("--project-id", envvar="HW_PROJECT_ID", required=True, metavar="ID",
              help="The project whose clusters to read (or HW_PROJECT_ID).")
@click.option("--region", envvar="HW_REGION_NAME", required=True, metavar="REGION",
              help="Its region, e.g. ap-southeast-1 (or HW_REGION_NAME).")
@click.option("--cluster", "clusters", multiple=True, metavar="NAME",
              help="Only these clusters: names, globs like prod-* or selectors on the "
                   "clusters' labels like 'env=prod' (repeatable; default all).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="The desired-state file to write.")
@click.option("--force", is_flag=True,
              help="Overwrite FILE when it exists (without: show the diff, exit 2).")
@click.option("--endpoint", default=None, metavar="URL",
              help="The CCE endpoint (https://…, emulator://NAME or a socket emulator's "
                   "URL); default https://cce.{region}.myhuaweicloud.com. Written into "
                   "the file's defaults.")
@state_dir_option
@click.option("--parallelism", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Clusters read at once.")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="R", help="At most R requests per second to the endpoint.")
@output_options
def init_command(project_id: str, region: str, clusters: Sequence[str], out: Path,
                 force: bool, endpoint: str | None, state_dir: Path, parallelism: int,
                 rate_limit: float | None, no_color: bool) -> None:
    """Write a desired-state file from what the project's clusters run.

    One entry per cluster (id, labels, Kubernetes version), each add-on at the
    version it runs with only the values that differ from the template's
    defaults; what clusters run alike goes into profiles (base, then one per
    label). Sensitive values are never copied: a secret('NAME') placeholder
    names the variable to set. When FILE exists, init shows the diff of what
    it would change and exits 2 without writing (--force writes it).

    \b
    Example:
      reconciler init --endpoint emulator://demo --region ap-southeast-1 \\
          --project-id 0504201b6c80256b2f08c0099f0c8fe4 --out fleet.yaml \\
          && reconciler plan fleet.yaml   # adoptions only
    """
    try:
        patterns = tuple(parse_pattern(c) for c in clusters)
    except SelectorError as err:
        fail(f"--cluster: {err}")
    if out.exists() and not out.is_file():
        fail(f"{out} exists and is not a regular file; --out names the file to write")
    preflight_or_exit([(endpoint or "", region)])
    opts = CommonOptions(files=(), clusters=tuple(clusters), endpoint=endpoint,
                         state_dir=state_dir, parallelism=parallelism, rate_limit=rate_limit,
                         no_color=no_color)
    target = InitTarget(endpoint=endpoint or "", region=region, project_id=project_id,
                        patterns=patterns)
    with session_with_progress(opts) as session:
        try:
            onboarded = asyncio.run(init_flow(session, target, workers=parallelism))
        except (CloudError, NoClusters) as err:
            fail(str(err))
    text = init_file_text(onboarded, region=region, project_id=project_id, endpoint=endpoint,
                          header=_header(target, onboarded))
    _write(out, text, force)
    click.echo(_summary(out, onboarded), err=True)


def _write(out: Path, text: str, force: bool) -> None:
    if not out.exists():
        write_atomic(out, text, mode=0o644)
        return
    try:
        old = out.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        fail(f"cannot read {out} to compare with: {err}")
    if old == text:
        click.echo(f"{out} is up to date: the clusters run what it says", err=True)
        raise SystemExit(0)
    diff = difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                fromfile=str(out), tofile=f"{out} (init)")
    click.echo("".join(diff), nl=False)
    if not force:
        click.echo(f"{out} exists: not overwritten; the diff above is what init would change "
                   f"(--force writes it)", err=True)
        raise SystemExit(EXIT_DIFFERS)
    write_atomic(out, text, mode=0o644)


def _header(target: InitTarget, onboarded: Onboarded) -> str:
    chosen = " ".join(f"--cluster '{p.text}'" for p in target.patterns)
    where = f"project {target.project_id}, region {target.region}"
    lines = [
        f"Written by `reconciler init` from what the clusters run ({where}"
        f"{', ' if chosen else ''}{chosen}).",
        "Each add-on: the version it runs and only the values that differ from the",
        "template's defaults. Profiles hold what most of their clusters run (edit one",
        "line there to change them all); a cluster running otherwise says so itself.",
        "`reconciler plan` on this file adopts what runs and writes nothing.",
    ]
    if onboarded.secrets:
        lines += ["", "Sensitive values were not copied; set these variables before plan:"]
        lines += [f"  {name}" for name in onboarded.secrets]
    return "\n".join(lines)


def _summary(out: Path, onboarded: Onboarded) -> str:
    addons = sum(len(c.addons) for c in onboarded.clusters)
    profiles = ", ".join(p.name for p in onboarded.profiles) or "none"
    n = len(onboarded.clusters)
    text = (f"wrote {out}: {n} cluster{'s' if n != 1 else ''} ({addons} add-on "
            f"block{'s' if addons != 1 else ''} of their own), profiles: {profiles}")
    if onboarded.secrets:
        text += (f"\n{len(onboarded.secrets)} sensitive values were not copied: set "
                 + ", ".join(onboarded.secrets[:5])
                 + (f" and {len(onboarded.secrets) - 5} more" if len(onboarded.secrets) > 5
                    else "") + " (listed at the top of the file)")
    return text


