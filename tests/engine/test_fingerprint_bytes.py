"""The live fingerprint keeps the bytes it always had (saved plans carry it):
orjson's fast path must give the standard library's canonical JSON, and
fall back where it would not."""

from __future__ import annotations

import hashlib
import json

import pytest

from reconciler.engine.fingerprint import fingerprint_instances
from reconciler.model.live import AddonInstance, InstanceStatus

VALUES = [
    {"basic": {"swr_addr": "swr.example/kube-system", "rbac_enabled": True}, "n": [1, 2.5]},
    {"tiny": 1e-05, "tinier": 2.5e-07, "big": 1e16, "zero": -0.0},
    {"huge": 2**70, "text": "é \u2028 <e-5>", "z": None, "a": {"b": {}}},
    {"version": "v1.2e-3", "ratio": 0.00001234},
    {"uid": "cf6a659e-b486", "list": [1e-06, -3e-05, 0.0001], "text": ",9e-1"},
]


def _stdlib(instances: list[AddonInstance]) -> str:
    """The fingerprint as the standard library computed it before orjson."""
    records = sorted(([i.uid, i.template_name, i.version, i.status.status, i.values]
                      for i in instances), key=lambda r: (r[0], r[1], r[2], r[3]))
    text = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("values", VALUES)
def test_same_bytes_as_the_standard_library(values: dict[str, object]) -> None:
    instances = [AddonInstance(uid=f"u{n}", name="x", cluster_id="c", template_name=f"t{n}",
                               version="1.0", values=values,  # type: ignore[arg-type]
                               status=InstanceStatus(status="running"))
                 for n in range(2)]
    assert fingerprint_instances(instances) == _stdlib(instances)


def test_a_keyed_fingerprint_is_an_hmac_of_the_same_bytes() -> None:
    # Live values hold secrets in clear: keyed by the state's salt (which no
    # plan file holds), the fingerprint a plan carries can't test a guess.
    import hmac

    instances = [AddonInstance(uid="u", name="x", cluster_id="c", template_name="t",
                               version="1.0", values={"custom": {"token": "s3cret"}},
                               status=InstanceStatus(status="running"))]
    text = json.dumps([["u", "t", "1.0", "running", {"custom": {"token": "s3cret"}}]],
                      sort_keys=True, separators=(",", ":"))
    keyed = fingerprint_instances(instances, "state-salt")
    assert keyed == hmac.new(b"state-salt", text.encode(), hashlib.sha256).hexdigest()
    assert keyed != fingerprint_instances(instances) == _stdlib(instances)
    assert keyed != fingerprint_instances(instances, "other-salt")
