"""The journal: one JSON line per operation on a cluster, never rewritten.

Where the state file says what is, the journal says what happened and when:
every install, upgrade, update, delete, adopt, rollback and precheck, with the
versions, precheck task ids, accepted risks and the result. Each record is one
``write`` to a file opened with ``O_APPEND`` followed by ``fsync``, so
concurrent writers never interleave within a line and a record that was
appended survives a crash. A crash in the middle of a write can leave a torn
line (a ``{`` without its closing ``}``); the next ``append`` starts on a fresh
line and ``read`` skips torn lines, since a record that was never completed
never happened. (A writer that catches another's write in flight may also
start on a fresh line; ``read`` skips blank lines.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.masking import mask
from reconciler.masking.files import open_append, read_regular
from reconciler.statemgr.actor import actor
from reconciler.statemgr.errors import CorruptStateError
from reconciler.statemgr.paths import ClusterPaths

__all__ = ["Journal"]


class Journal:
    """Append-only operation log of one cluster: ``<state_dir>/<cluster>.journal.jsonl``."""

    def __init__(self, state_dir: Path, cluster_name: str) -> None:
        self.path = ClusterPaths(Path(state_dir), cluster_name).journal

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append ``record`` (``time``, RFC 3339 UTC, and ``actor``, who ran it, are
        added unless a time is given: a copied record keeps its own); returns it.

        Typical keys: ``action``, ``addon``, ``from_version``, ``to_version``,
        ``precheck_task_ids``, ``accepted_risks``, ``result``, ``message``.
        Never put values in a record: they may hold secrets.
        """
        written = ({"time": _now(), "actor": actor(), **record} if "time" not in record
                   else dict(record))
        line = json.dumps(written, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
        # Masked like every file we write: a message may quote a server error.
        data = (mask(line) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_append(self.path, 0o600, readable=True)
        try:
            if _ends_torn(fd):
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return written

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first; ``[]`` if there is no journal yet.

        Raises ``CorruptStateError`` (naming file:line) for a damaged line
        other than a torn one.
        """
        try:
            text = read_regular(self.path).decode("utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        records: list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if _is_torn(line):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = f"line {number} is not valid JSON ({exc.msg})"
                raise CorruptStateError(self.path, problem, kind="journal") from exc
            if not isinstance(record, dict):
                raise CorruptStateError(
                    self.path, f"line {number} is not a JSON object", kind="journal"
                )
            records.append(record)
        return records


def _is_torn(line: str) -> bool:
    # Records are one-line JSON objects: one cut short by a crash opens but never closes.
    stripped = line.strip()
    return stripped.startswith("{") and not stripped.endswith("}")


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
