"""The shipped JSON Schema of a plan (``plan.schema.json``, Draft 2020-12).

Every plan read back (``show FILE``, ``apply FILE``) is validated against it
before a single field is trusted; the codec turns the problems found here
into ``PlanFormatError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = ["MAX_LISTED_PROBLEMS", "schema_problems", "validator"]

MAX_LISTED_PROBLEMS = 5
"""A broken plan can have thousands of problems; the first few say enough."""


@cache
def validator() -> jsonschema.Draft202012Validator:
    # Loaded once per process: the schema is package data, it can't change under us.
    text = resources.files("reconciler.planfile").joinpath("plan.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def schema_problems(data: Mapping[str, Any]) -> str | None:
    """``"where: what; …"`` for the schema violations of ``data`` (in path
    order, at most ``MAX_LISTED_PROBLEMS`` then a count), or ``None`` if valid."""
    errors = sorted(validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    listed = "; ".join(_describe(e) for e in errors[:MAX_LISTED_PROBLEMS])
    more = len(errors) - MAX_LISTED_PROBLEMS
    return listed + (f"; and {more} more problems" if more > 0 else "")


def _describe(error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.') or '(top level)'}: {error.message}"
