"""Issue 11, paths 3 and 4: keys that merely look secret. A fresh saved plan must
not be refused as stale, and plain values (tolerations, booleans) must be shown
in clear in plans, state and drift."""

from __future__ import annotations

import json
import re
import time

import pytest

from .conv_helpers import LEGACY_ID, Cloud

pytestmark = pytest.mark.convergence

TOKEN = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      npd:
        allow_unknown_values: [custom.token]
        values:
          custom:
            token: plain-not-a-secret
"""

EVEREST = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      everest: {{}}
"""


@pytest.mark.parametrize("clusters", [TOKEN, EVEREST], ids=["custom.token", "everest-default"])
def test_fresh_saved_plan_applies_on_first_run(cloud: Cloud, clusters: str) -> None:
    """Path 3: on a cluster's first run (no state; everest: installed fresh),
    `plan --out p.json && apply p.json` must apply, not say "plan is stale: … the
    sensitive value at … changed" because a plain key looks secret (custom.token,
    disable_auto_mount_secret)."""
    if clusters is EVEREST:
        # A cluster without everest: the first run installs it with its
        # defaults, disable_auto_mount_secret: false among them.
        everest = cloud.instance(LEGACY_ID, "everest")
        cloud.api(lambda c: c.delete(everest.uid, LEGACY_ID))
        time.sleep(0.05)
        assert cloud.status(LEGACY_ID, "everest") == "absent"
    cloud.write(clusters)
    saved = cloud.tmp / "p.json"
    plan = cloud.plan("--out", str(saved))
    assert plan.exit_code == 0, plan.output
    applied = cloud.apply_saved(saved)
    assert "stale" not in applied.output, applied.output
    assert applied.exit_code == 0, applied.output
    assert (cloud.state_dir / "demo-legacy.json").exists()


TOLERATIONS = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns:
        values:
          custom:
            tolerations:
              - key: dedicated-dns
                operator: Exists
                effect: NoSchedule
      everest:
        values:
          custom:
            disable_auto_mount_secret: true
"""


def test_tolerations_and_booleans_are_shown_in_clear(cloud: Cloud) -> None:
    """Path 4: a toleration item (it has a `key:`) and the boolean
    disable_auto_mount_secret are plain values: plan, state and drift show them,
    never `(sensitive)`."""
    cloud.write(TOLERATIONS)
    plan = cloud.plan()
    assert plan.exit_code == 0, plan.output
    assert "(sensitive)" not in plan.output, plan.output
    assert "dedicated-dns" in plan.output, plan.output
    assert re.search(r"disable_auto_mount_secret.*true", plan.output), plan.output

    assert cloud.apply().exit_code == 0
    state = cloud.state("demo-legacy")
    assert "dedicated-dns" in json.dumps(state)
    assert "(sensitive)" not in json.dumps(state), state
    assert not state["addons"]["coredns"]["sensitive_paths"], state["addons"]["coredns"]
    assert not state["addons"]["everest"]["sensitive_paths"], state["addons"]["everest"]

    everest = cloud.instance(LEGACY_ID, "everest")
    values = dict(everest.values)
    values["custom"] = {**values["custom"], "disable_auto_mount_secret": False}
    cloud.api(lambda c: c.update(everest.uid, LEGACY_ID, "everest", everest.version, values,
                                 upgrade=False))
    # Let the console edit finish: an operation in flight is path 9's case, and
    # drift of a settled edit is what this test is about.
    deadline = time.monotonic() + 10
    while cloud.status(LEGACY_ID, "everest") != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    drift = cloud.drift("--format", "json")
    assert drift.exit_code == 2, drift.output
    assert "(sensitive)" not in drift.output, drift.output
    assert '"sensitive": true' not in drift.output, drift.output


def test_per_addon_sensitive_and_not_sensitive_lists(cloud: Cloud) -> None:
    """Path 4: `sensitive:` / `not_sensitive:` per add-on let the file say which
    keys to redact: a declared-sensitive plain key is hidden, a secret-looking
    name declared not sensitive is shown."""
    cloud.write(f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      npd:
        sensitive: [custom.feature_gates]
        not_sensitive: [custom.token]
        allow_unknown_values: [custom.token]
        values:
          custom:
            feature_gates: hidden-gate-value
            token: shown-plain-value
""")
    plan = cloud.plan()
    assert plan.exit_code == 0, plan.output
    assert "hidden-gate-value" not in plan.output, plan.output
    assert "shown-plain-value" in plan.output, plan.output
