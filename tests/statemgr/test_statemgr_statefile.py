from __future__ import annotations

import json
from pathlib import Path

import pytest
from statemgr_helpers import FIXTURES, sample_state

from reconciler.model.state import STATE_FORMAT_VERSION
from reconciler.statemgr import CorruptStateError, UnsupportedFormatError, from_json, to_json


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_fixture_round_trips_byte_identically(fixture: Path) -> None:
    text = fixture.read_text(encoding="utf-8")
    assert to_json(from_json(text)) == text


def test_fixture_parses_to_the_expected_model() -> None:
    parsed = from_json((FIXTURES / "prod.json").read_bytes())
    assert parsed == sample_state(serial=4)
    assert parsed.addons["coredns"].precheck_task_ids == ("task-1", "task-2")


def test_output_is_canonical_whatever_the_input_order() -> None:
    document = json.loads((FIXTURES / "prod.json").read_text())
    shuffled = dict(reversed(list(document.items())))
    shuffled["addons"] = dict(reversed(list(document["addons"].items())))
    assert to_json(from_json(shuffled)) == (FIXTURES / "prod.json").read_text()


def test_invalid_json_names_the_file_and_the_backup(tmp_path: Path) -> None:
    backup = tmp_path / "prod.json.backup"
    backup.write_text("{}")
    with pytest.raises(CorruptStateError) as caught:
        from_json('{"format_version": 1,', source=tmp_path / "prod.json", backup=backup)
    message = str(caught.value)
    assert str(tmp_path / "prod.json") in message
    assert "not valid JSON" in message
    assert str(backup) in message


def test_every_problem_is_listed() -> None:
    document = json.loads((FIXTURES / "prod.json").read_text())
    document["serial"] = -1
    document["colour"] = "blue"
    del document["lineage"]
    document["addons"]["coredns"]["version"] = 3
    document["addons"]["everest"]["accepted_risks"] = "NodeOSRisk"
    with pytest.raises(CorruptStateError) as caught:
        from_json(document)
    message = str(caught.value)
    for expected in (
        "serial must be a non-negative integer",
        "unknown key 'colour'",
        "missing key 'lineage'",
        "addons.coredns.version must be a string",
        "addons.everest.accepted_risks must be a list of strings",
    ):
        assert expected in message


def test_a_newer_format_version_asks_for_an_upgrade() -> None:
    document = json.loads((FIXTURES / "prod.json").read_text())
    document["format_version"] = STATE_FORMAT_VERSION + 1
    with pytest.raises(UnsupportedFormatError, match=r"newer reconciler.*upgrade"):
        from_json(document)


@pytest.mark.parametrize("bad", [0, "1", True, None])
def test_a_nonsense_format_version_is_corrupt(bad: object) -> None:
    document = json.loads((FIXTURES / "prod.json").read_text())
    document["format_version"] = bad
    with pytest.raises(CorruptStateError, match="format_version"):
        from_json(document)


def test_a_non_object_document_is_corrupt() -> None:
    with pytest.raises(CorruptStateError, match="not a JSON object"):
        from_json("[1, 2]")
