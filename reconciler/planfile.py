"""Saved plan files (``plan --out FILE``, ``show FILE``, ``apply FILE``).

A plan file is the canonical JSON plan (``reconciler.views.jsonplan``), sorted
and indented so that it diffs well in review, with every sensitive value
already hashed: it is safe to commit. It is written atomically (temporary file
in the same directory, fsync, rename) so a reader never sees half a plan.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; a plan file is meant to be shared and committed.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


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


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
