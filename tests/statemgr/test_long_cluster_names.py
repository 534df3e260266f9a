"""The longest cluster name the schema allows fits every file named after it.

A cluster's state, backup, journal, lock, lock record and their temporary files
are named after it; a file name has at most 255 bytes. `validate` refuses
longer names (tests/security/test_cli_crashes.py), so apply never meets
"File name too long". This writes all of those files for a name at the limit.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from statemgr_helpers import sample_state

from reconciler.statemgr.local import LocalBackend


def _schema_limit() -> int:
    text = resources.files("reconciler.config").joinpath(
        "schema/desired-state.schema.json").read_text("utf-8")
    limit: int = json.loads(text)["$defs"]["cluster_name"]["maxLength"]
    return limit


def test_a_name_at_the_schema_limit_fits_every_state_file(tmp_path: Path) -> None:
    limit = _schema_limit()
    name = "c" * limit
    backend = LocalBackend(tmp_path / "state")
    with backend.lock(name, operation="apply"):
        written = backend.write(sample_state(name))
        written = backend.write(sample_state(name, serial=written.serial))  # makes the .backup
        backend.append_journal(name, {"action": "apply", "result": "ok"})
    assert backend.read_existing(name).serial == written.serial
    names = os.listdir(tmp_path / "state")
    assert {f"{name}.json", f"{name}.json.backup", f"{name}.journal.jsonl",
            f"{name}.lock"} <= set(names)
    # The longest name made: a temporary file of the backup ("." + name +
    # ".json.backup.tmp-" + 8 random characters), with room to spare.
    longest = len(".") + limit + len(".json.backup.tmp-") + 8
    assert longest <= os.pathconf(tmp_path, "PC_NAME_MAX")
