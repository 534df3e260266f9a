"""Saved plan files (``plan --out FILE``, ``show FILE``, ``apply FILE``).

A plan file is the canonical JSON plan (``reconciler.planfile.codec``), sorted
and indented so that it diffs well in review, with every sensitive value
already hashed: it is safe to commit. It is written atomically (temporary file
in the same directory, fsync, rename) so a reader never sees half a plan.

Its ``digest`` (``sha256:`` over the canonical JSON of everything else) is
checked on every load: a plan edited or corrupted after ``plan --out`` is
refused, and so is one without a digest. It detects changes, it does not
prove who wrote the plan; a reviewer compares the digest ``plan --out`` and
``show`` print.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from reconciler.masking.files import write_atomic
from reconciler.model.json import DuplicateKeyError, unique_keys
from reconciler.model.plan import Plan
from reconciler.planfile.codec import (
    JSON_FORMAT_VERSION,
    PlanFormatError,
    dumps_plan_json,
    plan_from_json,
    plan_to_json,
)
from reconciler.planfile.integrity import digest_problem

__all__ = ["MAX_PLAN_BYTES", "PlanFileError", "load_plan", "load_plan_with_digest",
           "looks_like_plan_file", "save_plan"]

MAX_PLAN_BYTES = 64 * 1024 * 1024
"""A plan larger than this is not one we wrote (thousands of clusters fit well below)."""

_BOM = "\ufeff".encode()


class PlanFileError(Exception):
    """A plan file that can't be read, isn't JSON, or isn't a plan this version reads."""


def save_plan(path: str | os.PathLike[str], plan: Plan, *, salts: Mapping[str, str]) -> str:
    """Write ``plan``; returns its digest (shown so that a reviewer can compare)."""
    target = Path(path)
    data = plan_to_json(plan, salts=salts)
    text = dumps_plan_json(data) + "\n"
    # 0644: a plan file is meant to be shared and committed. Masking can only change
    # a leaked literal, and then the digest no longer matches: apply refuses the file.
    write_atomic(target, text, mode=0o644)
    return str(data["digest"])


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read, check the digest of, and decode a saved plan; ``PlanFileError``
    names the file and what is wrong."""
    return load_plan_with_digest(path)[0]


def load_plan_with_digest(path: str | os.PathLike[str]) -> tuple[Plan, str]:
    source = Path(path)
    text = _read(source)
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKeyError as exc:
        raise PlanFileError(
            f"{source}: not a valid plan file: an object names the key {exc.key!r} twice;"
            " reconciler never writes that, so the file was edited: re-run `reconciler plan --out`"
        ) from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{source}:{exc.lineno}:{exc.colno}: not a valid plan file: invalid JSON"
            f" ({exc.msg}); is it truncated? re-run `reconciler plan --out`"
        ) from None
    except RecursionError:
        raise PlanFileError(f"{source}: not a valid plan file: JSON nested too deeply") from None
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        raise PlanFileError(f"{source}: not a valid plan file: a number of more than 4,300"
                            " digits, which no plan has; re-run `reconciler plan --out`") from None
    if not isinstance(data, dict):
        raise PlanFileError(
            f"{source}: not a valid plan file: a plan is a JSON object, not {type(data).__name__}"
        )
    # `plan --format json` adds the Terraform-shaped resource_changes, derived
    # from the clusters and outside the digest (docs/policy.md): such a file is
    # a plan all the same, read without it.
    data.pop("resource_changes", None)
    problem = digest_problem(data, format_version=JSON_FORMAT_VERSION)
    if problem:
        raise PlanFileError(f"{source}: {problem}")
    try:
        # Also refuses older format versions, which had no digest ("re-run plan").
        return plan_from_json(data), str(data.get("digest"))
    except PlanFormatError as exc:
        raise PlanFileError(f"{source}: {exc}") from None


def looks_like_plan_file(path: Path) -> bool:
    """Is ``path`` meant as a saved plan rather than desired state? By content,
    so that a corrupt plan is reported as one, never parsed as YAML: a JSON
    object with ``format_version`` and ``plan_id``, or a ``.json`` file that
    starts with ``{`` or is empty. Directories, unreadable and special files are not."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    # A UTF-8 byte order mark (some Windows editors add one) is not content.
    stripped = head.removeprefix(_BOM).lstrip()
    if path.suffix.lower() == ".json" and (not stripped or stripped.startswith(b"{")):
        return True  # an empty .json is a plan truncated to nothing
    if not stripped.startswith(b"{"):
        return False
    # Sorted keys put format_version and plan_id near the end: parse the whole file.
    try:
        data = json.loads(_read(path))
    except (PlanFileError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "format_version" in data and "plan_id" in data


def _read(source: Path) -> str:
    try:
        info = source.stat()
        if stat.S_ISDIR(info.st_mode):
            raise PlanFileError(f"{source}: is a directory, not a plan file")
        # A FIFO or device would block or never end: a plan is a regular file.
        if not stat.S_ISREG(info.st_mode):
            raise PlanFileError(f"{source}: not a regular file, so not a plan file")
        if info.st_size > MAX_PLAN_BYTES:
            raise PlanFileError(
                f"{source}: not a valid plan file: {info.st_size} bytes is larger than the"
                f" {MAX_PLAN_BYTES} a plan may have"
            )
        return source.read_text(encoding="utf-8-sig")  # -sig: a leading BOM is dropped
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read plan file {source}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
