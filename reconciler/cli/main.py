"""Command-line entry point: parse arguments, call the layers, hand results to views."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import click

from reconciler import __version__
from reconciler.cli.apply import apply_command, import_command
from reconciler.cli.config import validate
from reconciler.cli.drift import drift_command
from reconciler.cli.emulator import emulator
from reconciler.cli.history import history_command
from reconciler.cli.init import init_command
from reconciler.cli.options import ARGV_KEY, env_color
from reconciler.cli.plan import plan_command, show_command
from reconciler.cli.state import force_unlock, state
from reconciler.cli.templates import schema, values_command
from reconciler.masking import register_credentials, reset_redactor
from reconciler.masking.logs import install_log_masking
from reconciler.masking.streams import install_stream_masking

__all__ = ["EXIT_USAGE", "ReconcilerGroup", "cli", "main"]

# Exit codes (docs/planning.md): 1 is "error". click exits 2 on a usage error, the code plan
# --detailed-exitcode and drift use for "changes": a cron job that maps 2 to
# success would pass forever on a typo'd flag.
EXIT_USAGE = 1


class ReconcilerGroup(click.Group):
    """The root group: every usage error, at any depth of the command tree
    (unknown option, bad value, missing argument, wrong combination), exits 1
    after click prints its usual message."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The root's own options and arguments (``reconciler --bogus``).
        argv = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _usage_exit(err)
        # As typed, for messages that tell how to run the command again
        # (a paused or halted rollout's "to continue" line).
        ctx.meta[ARGV_KEY] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        # Sub-groups and commands parse their arguments inside this call, and
        # commands raise UsageError/BadParameter from their bodies.
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            _usage_exit(err)


def _usage_exit(err: click.UsageError) -> NoReturn:
    # click's own message (usage line, hint, "Error: …"), then exit 1, not 2.
    err.show()
    raise SystemExit(EXIT_USAGE) from None


@click.group(cls=ReconcilerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Declarative reconciler for Huawei Cloud CCE add-ons.

    \b
    Example:
      reconciler plan examples/demo.yaml
    """
    # Before any command runs or creates a console: from here on stdout,
    # stderr and every log record are masked, including the error click
    # prints after the command ends (hence the streams are never unwrapped).
    reset_redactor()
    register_credentials(os.environ)
    install_stream_masking()
    ctx.call_on_close(install_log_masking())
    # Inherited by every sub-command's context: click.echo keeps or strips
    # escape codes as NO_COLOR / FORCE_COLOR say, not only by isatty.
    ctx.color = env_color()


cli.add_command(emulator)
cli.add_command(validate)
cli.add_command(plan_command)
cli.add_command(show_command)
cli.add_command(schema)
cli.add_command(state)
cli.add_command(force_unlock)
cli.add_command(apply_command)
cli.add_command(import_command)
cli.add_command(drift_command)
cli.add_command(init_command)
cli.add_command(values_command)
cli.add_command(history_command)


def main() -> None:
    cli(prog_name="reconciler")
