"""Issue 11, paths 2 and 5 beyond the convergence tests: --refresh-only accepts
out-of-band changes the files disagree with (and forgets a deleted add-on)
without a write, and JSON plan/apply results mark an adopt that writes."""

from __future__ import annotations

import json
import time

import pytest

from .conv_helpers import LEGACY_ID, Cloud

pytestmark = pytest.mark.convergence

NPD = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      npd: {{}}
"""


def test_refresh_only_accepts_what_the_files_disagree_with_and_sends_nothing(
        cloud: Cloud) -> None:
    cloud.write(NPD)
    assert cloud.apply().exit_code == 0
    npd = cloud.instance(LEGACY_ID, "npd")
    cloud.api(lambda c: c.delete(npd.uid, LEGACY_ID))
    time.sleep(0.1)
    # The files still want npd: a normal plan re-installs it, refresh-only forgets it.
    assert "npd: install" in cloud.plan().output
    shown = cloud.plan("--refresh-only", "--format", "json")
    assert shown.exit_code == 0, shown.output
    plan = json.loads(shown.stdout)
    assert [(c["addon"], c["action"]) for c in plan["clusters"][0]["changes"]] == [
        ("npd", "refresh")]
    assert plan["summary"]["refresh"] == 1 and plan["summary"]["install"] == 0
    writes = [r for r in cloud.requests if r[0] in ("PUT", "POST", "DELETE")]
    applied = cloud.apply("--refresh-only")
    assert applied.exit_code == 0, applied.output
    assert "1 refreshed (state only)" in applied.output
    assert [r for r in cloud.requests if r[0] in ("PUT", "POST", "DELETE")] == writes
    assert "npd" not in cloud.state("demo-legacy")["addons"]
    last = (cloud.state_dir / "demo-legacy.journal.jsonl").read_text(
        encoding="utf-8").splitlines()[-1]
    assert json.loads(last)["action"] == "refresh"


def test_json_plan_and_result_mark_the_adopt_that_writes(cloud: Cloud) -> None:
    cloud.write(f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      npd:
        values:
          custom:
            multiAZEnabled: true
""")
    plan = json.loads(cloud.plan("--format", "json").stdout)
    (npd,) = plan["clusters"][0]["changes"]
    assert (npd["action"], npd["adopting"]) == ("update", True)
    assert plan["summary"]["adopting"] == {"update": 1} and plan["summary"]["adopt"] == 0
    result = cloud.apply("--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["summary"]["updated"] == 1 and body["summary"]["adopted"] == 0
    assert body["summary"]["adopting"] == {"updated": 1}
    assert body["clusters"][0]["addons"][0]["adopting"] is True
