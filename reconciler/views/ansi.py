"""ANSI styling for the terminal views, without click.

Only the cli may import click (import-linter contract), yet the drift text
view must keep printing exactly what ``click.style`` printed, byte for byte:
scripts and golden files compare it. So this emits the same sequences in the
same order (colour, then bold, then the text, then reset-all); a test checks
it against click while click is installed.
"""

from __future__ import annotations

__all__ = ["COLOURS", "style"]

COLOURS: dict[str, int] = {
    "black": 30,
    "red": 31,
    "green": 32,
    "yellow": 33,
    "blue": 34,
    "magenta": 35,
    "cyan": 36,
    "white": 37,
    "reset": 39,
    "bright_black": 90,
    "bright_red": 91,
    "bright_green": 92,
    "bright_yellow": 93,
    "bright_blue": 94,
    "bright_magenta": 95,
    "bright_cyan": 96,
    "bright_white": 97,
}
"""The named foreground colours click knows, with their SGR codes."""

_RESET_ALL = "\x1b[0m"


def style(text: str, *, fg: str | None = None, bold: bool | None = None) -> str:
    """``text`` in colour ``fg`` (a name of ``COLOURS``), bold if ``bold``.

    As with click, ``bold=False`` actively turns bold off (SGR 22) and ``None``
    leaves it alone; the result always ends with a reset so nothing leaks
    into the next line.
    """
    bits: list[str] = []
    if fg is not None:
        code = COLOURS.get(fg)
        if code is None:
            raise ValueError(f"unknown colour {fg!r} (valid: {', '.join(COLOURS)})")
        bits.append(f"\x1b[{code}m")
    if bold is not None:
        bits.append(f"\x1b[{1 if bold else 22}m")
    bits.append(text)
    bits.append(_RESET_ALL)
    return "".join(bits)
