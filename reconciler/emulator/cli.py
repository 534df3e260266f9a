"""``reconciler emulator …`` commands."""

from __future__ import annotations

import click


@click.group()
def emulator() -> None:
    """Run the CCE emulator."""
