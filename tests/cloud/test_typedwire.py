"""The typed add-on list decoder gives exactly what the tolerant reader gives,
and steps aside (None) for every shape only the tolerant reader accepts."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from reconciler.cloud.sharing import JsonInterner
from reconciler.cloud.typedwire import decode_instances
from reconciler.cloud.wire import items, parse_instance
from reconciler.emulator import Emulator, generate_scenario, load_scenario
from reconciler.emulator.scenario import demo_scenario_path


def _tolerant(body: bytes) -> list[Any]:
    return [parse_instance(i) for i in items(json.loads(body).get("items"))]


def _list(*instances: bytes) -> bytes:
    return b'{"kind":"List","apiVersion":"v3","items":[' + b",".join(instances) + b"]}"


@pytest.mark.parametrize("emulator", [
    Emulator(load_scenario(demo_scenario_path())),
    Emulator(generate_scenario(3)),
], ids=["demo", "generated"])
def test_same_instances_as_the_tolerant_reader(emulator: Emulator) -> None:
    body = _list(*(emulator.encoded_instance(i) for i in emulator.store.instances.values()))
    typed = decode_instances(body, JsonInterner().share)
    assert typed is not None and typed == _tolerant(body)
    assert len(typed) == len(emulator.store.instances)


def test_documented_variants_in_the_strict_shape() -> None:
    item = {"metadata": {"uid": "u", "name": "n", "creationTimeStamp": "t0"},
            "spec": {"clusterID": "c", "addonTemplateName": "coredns", "version": "1.0",
                     "values": None},
            "status": {"status": "running", "reason": "r", "currentVersion": "1.0",
                       "targetVersions": None, "isRollbackable": True, "extra": {"x": 1}}}
    body = orjson.dumps({"items": [item, {}]})
    typed = decode_instances(body, JsonInterner().share)
    assert typed is not None and typed == _tolerant(body)
    assert typed[0].created_at == "t0" and typed[0].status.reason == "r"
    assert typed[0].values == {} and typed[1].uid == ""


@pytest.mark.parametrize("body", [
    b'{"items": {"metadata": {"uid": "one object, not a list"}}}',
    b'{"items": [{"metadata": {"uid": 42}}]}',
    b'{"items": [{"status": {"targetVersions": "1.0"}}]}',
    b'{"items": [{"spec": {"values": [1, 2]}}]}',
    b'{"items": ["not an object"]}',
    b'["not", "an", "object"]',
    b'not json',
    b'{"items": [{"metadata": {"uid": "u"}}]',
])
def test_anything_else_is_left_to_the_tolerant_reader(body: bytes) -> None:
    assert decode_instances(body, JsonInterner().share) is None
