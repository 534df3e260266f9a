from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from statemgr_helpers import python

from reconciler.statemgr import CorruptStateError, Journal


def test_records_are_appended_in_order_with_a_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state", "prod")
    assert journal.read() == []
    first = journal.append({"action": "upgrade", "addon": "coredns", "to_version": "1.31.0"})
    journal.append({"action": "install", "addon": "everest", "result": "ok"})
    records = journal.read()
    assert [r["action"] for r in records] == ["upgrade", "install"]
    assert records[0] == first
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert journal.path.read_text().count("\n") == 2


def test_a_given_time_is_kept(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "prod")
    journal.append({"time": "2024-05-01T10:00:00Z", "action": "adopt"})
    assert journal.read()[0]["time"] == "2024-05-01T10:00:00Z"


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_clean(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "prod")
    journal.append({"action": "install"})
    with journal.path.open("a") as handle:
        handle.write('{"action": "upgr')  # a crash in the middle of a write
    assert [r["action"] for r in journal.read()] == ["install"]
    journal.append({"action": "upgrade"})
    assert [r["action"] for r in journal.read()] == ["install", "upgrade"]


def test_a_damaged_line_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "prod")
    journal.append({"action": "install"})
    with journal.path.open("a") as handle:
        handle.write("not json\n")
    journal.append({"action": "upgrade"})
    with pytest.raises(CorruptStateError, match=r"journal .*prod\.journal\.jsonl.*line 2"):
        journal.read()


def test_records_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        Journal(tmp_path, "prod").append({"action": object()})


_APPENDER = """
import sys
from pathlib import Path
from reconciler.statemgr import Journal

journal = Journal(Path(sys.argv[1]), "prod")
writer = sys.argv[2]
for i in range(40):
    journal.append({"writer": writer, "seq": i, "pad": "x" * (i * 150)})
"""


def test_concurrent_writers_produce_whole_lines(tmp_path: Path) -> None:
    writers = [python(_APPENDER, str(tmp_path), f"w{n}") for n in range(4)]
    for process in writers:
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
    journal = Journal(tmp_path, "prod")
    # A writer that sees another's write in flight may start on a fresh line: blanks are harmless.
    lines = [line for line in journal.path.read_text().splitlines() if line]
    assert len(lines) == len(journal.read()) == 4 * 40
    sequences: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        record = json.loads(line)
        assert record["pad"] == "x" * (record["seq"] * 150)
        sequences[record["writer"]].append(record["seq"])
    assert {w: s for w, s in sequences.items()} == {f"w{n}": list(range(40)) for n in range(4)}
