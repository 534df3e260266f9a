"""Command-line entry point: parse arguments, call the layers, hand results to views."""

from __future__ import annotations

import os

import click

from reconciler import __version__
from reconciler.cli.apply import apply_command, import_command
from reconciler.cli.config import schema, validate
from reconciler.cli.drift import drift_command
from reconciler.cli.emulator import emulator
from reconciler.cli.plan import plan_command, show_command
from reconciler.cli.state import force_unlock, state
from reconciler.masking import register_credentials, reset_redactor
from reconciler.masking.logs import install_log_masking
from reconciler.masking.streams import install_stream_masking

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="reconciler")
