"""The click layer: commands, options and output streams; the top floor.

``reconciler.cli:main`` is the console-script entry point (pyproject.toml) and
``from reconciler.cli import cli`` is how the tests drive the commands, so both
names stay importable from the package itself.
"""

from __future__ import annotations

from reconciler.cli.main import cli, main

__all__ = ["cli", "main"]
