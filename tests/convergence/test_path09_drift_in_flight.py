"""Issue 11, path 9: drift must call an operation in flight `in-progress`, not an
error, and its header counts must agree with its rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conv_helpers import LEGACY_ID, STAGING_ID, serve_cloud

pytestmark = pytest.mark.convergence

BOTH = f"""  demo-staging:
    cluster_id: {STAGING_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      metrics-server: {{}}
      volcano: {{}}
  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      coredns: {{}}
      everest: {{}}
      npd: {{}}
"""


def test_operation_in_flight_is_in_progress_not_an_error(tmp_path: Path) -> None:
    """Path 9: while a console upgrade of demo-staging metrics-server is running,
    drift must report kind `in-progress` (not exit 1), count no cluster as an
    error, and its summary must agree with the rows it lists."""
    with serve_cloud(tmp_path, time_scale=1) as cloud:  # the upgrade lasts 20 s
        cloud.write(BOTH)
        assert cloud.apply().exit_code == 0  # adoptions only: nothing to wait for
        ms = cloud.instance(STAGING_ID, "metrics-server")
        cloud.api(lambda c: c.update(ms.uid, STAGING_ID, "metrics-server", "1.3.68",
                                     dict(ms.values), upgrade=True))
        assert cloud.status(STAGING_ID, "metrics-server") == "upgrading"
        # The file also asks for a change of that add-on: pending behind the upgrade.
        cloud.write(BOTH.replace("metrics-server: {}", "metrics-server:\n        values:\n"
                                 "          custom: {multiAZEnabled: true}"))

        result = cloud.drift("--format", "json")
        data = json.loads(result.stdout)
        assert result.exit_code != 1, (data["summary"], [c["errors"] for c in data["clusters"]])
        staging = next(c for c in data["clusters"] if c["name"] == "demo-staging")
        found = next(a for a in staging["addons"] if a["addon"] == "metrics-server")
        assert "in-progress" in found["kinds"], found
        assert data["summary"]["error"] == 0, data["summary"]
        rows_drifted = sum(1 for c in data["clusters"]
                           if any(a["kinds"] for a in c["addons"]))
        assert data["summary"]["drifted"] == rows_drifted, data

        text = cloud.drift()
        assert text.exit_code != 1, text.output
        header = re.search(r"(\d+) of (\d+) cluster\(s\) drifted", text.output)
        assert header is None or int(header.group(1)) == rows_drifted, text.output
