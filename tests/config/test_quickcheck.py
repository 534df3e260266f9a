"""The fast validity check never accepts what jsonschema rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.config import schema_text
from reconciler.config.quickcheck import QuickValidator, UnsupportedSchema

CORPUS = Path(__file__).parent.parent / "corpus" / "invalid"
SCHEMA = json.loads(schema_text())
CID = "6b400e1c-4368-11f0-ba56-0255ac100037"


def corpus_documents() -> list[Any]:
    documents = []
    for file in sorted(CORPUS.glob("*/*.yaml")):
        try:
            documents.append(yaml.safe_load(file.read_text()))
        except yaml.YAMLError:
            continue  # syntax-error and Jinja cases have no document to compare
    return documents


VALID = {
    "apiVersion": "reconciler/v1",
    "defaults": {"region": "r1", "project_id": "p", "timeout": "10m", "prune": True},
    "clusters": {
        "a": {
            "cluster_id": CID,
            "addons": {
                "coredns": {
                    "version": "1.30.33",
                    "flavor": 5000,
                    "timeout": 600,
                    "depends_on": ["npd"],
                    "values": {"custom": {"x": [1, 1.0]}},
                },
                "npd": {"state": "absent", "precheck": {"accept": ["Risk"]}},
            },
        }
    },
}
EDGE_CASES = [
    VALID,
    {**VALID, "apiVersion": "reconciler/v2"},
    {**VALID, "defaults": {"timeout": 0}},
    {**VALID, "defaults": {"timeout": True}},
    {**VALID, "defaults": {"timeout": 1.0}},
    {**VALID, "defaults": {"timeout": ""}},
    {**VALID, "defaults": {"prune": 1}},
    {**VALID, "clusters": {"a": {"cluster_id": CID, "addons": {"x": {"depends_on": ["a", "a"]}}}}},
    {**VALID, "clusters": {"a": {"cluster_id": CID, "addons": {"x": {"flavor": 1.5}}}}},
    {**VALID, "clusters": {"-bad": {"cluster_id": CID}}},
    {**VALID, "clusters": {"a": {"cluster_id": CID.upper(), "addons": {"x": {"version": ""}}}}},
]


@pytest.mark.parametrize("document", corpus_documents() + EDGE_CASES)
def test_quick_check_agrees_with_jsonschema(document: Any) -> None:
    assert QuickValidator(SCHEMA).is_valid(document) == jsonschema.Draft202012Validator(
        SCHEMA
    ).is_valid(document)


def test_a_keyword_it_does_not_know_is_refused() -> None:
    with pytest.raises(UnsupportedSchema):
        QuickValidator({"type": "object", "oneOf": [{"type": "object"}]})
