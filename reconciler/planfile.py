"""Saved plan files (``plan --out FILE``, ``show FILE``, ``apply FILE``).

A plan file is the canonical JSON plan (``reconciler.views.jsonplan``), sorted
and indented so that it diffs well in review, with every sensitive value
already hashed: it is safe to commit. It is written atomically (temporary file
in the same directory, fsync, rename) so a reader never sees half a plan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from reconciler.masking.files import write_atomic
from reconciler.model.plan import Plan
from reconciler.views.jsonplan import (
    PlanFormatError,
    dumps_plan_json,
    plan_from_json,
    plan_to_json,
)

__all__ = ["PlanFileError", "load_plan", "save_plan"]


class PlanFileError(Exception):
    """A plan file that can't be read, isn't JSON, or isn't a plan this version reads."""


def save_plan(path: str | os.PathLike[str], plan: Plan, *, salts: Mapping[str, str]) -> None:
    target = Path(path)
    text = dumps_plan_json(plan_to_json(plan, salts=salts)) + "\n"
    # 0644: a plan file is meant to be shared and committed.
    write_atomic(target, text, mode=0o644)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read plan file {source}: {_reason(exc)}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{source}:{exc.lineno}:{exc.colno}: not a plan file: invalid JSON ({exc.msg})"
        ) from exc
    try:
        return plan_from_json(data)
    except PlanFormatError as exc:
        raise PlanFileError(f"{source}: {exc}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
