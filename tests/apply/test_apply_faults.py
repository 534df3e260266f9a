"""Apply through 429, 500 and dropped-connection storms from the emulator's faults:
it still converges, and never installs an add-on twice."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from reconciler.cloud import CloudSession, RetryPolicy
from reconciler.cloud.transport import InProcessTransport
from reconciler.emulator import Faults
from reconciler.run.apply import apply_plan
from reconciler.statemgr.local import LocalBackend
from reconciler.views.apply import apply_summary
from reconciler.views.progress import LogProgress

from .apply_helpers import MAIN_ID, DesiredFiles, credentials, new_emulator, options, plan

# Storms are rough: enough attempts that a run of bad luck is vanishingly rare.
STORM_RETRY = RetryPolicy(max_attempts=25, base_delay_s=0.001, max_delay_s=0.01,
                          max_retry_after_s=0.01)

DESIRED = {
    "coredns": {"version": "1.30.33", "precheck": {"accept": ["K8sResourceModified"]}},
    "metrics-server": {"values": {"custom": {"multiAZEnabled": True}}},
    "npd": {},
    "volcano": {"version": "1.15.8"},
    "autoscaler": {},
}


@pytest.mark.parametrize(
    "faults",
    [
        Faults(throttle_rate=0.5, retry_after_s=0),
        Faults(error_rate=0.3),
        Faults(drop_rate=0.3),
    ],
    ids=["429-storm", "500-storm", "dropped-connections"],
)
async def test_apply_converges_through_a_storm(
    faults: Faults, tmp_path: Path, desired: DesiredFiles,
) -> None:
    emu = new_emulator()
    store = LocalBackend(tmp_path / "state")
    path = desired(DESIRED)
    log = io.StringIO()
    async with CloudSession(concurrency=10, credentials=credentials(emu), retry=STORM_RETRY,
                            transport=InProcessTransport(emu.app)) as session:
        planned = await plan(session, store, path)
        emu.faults = faults
        result = await apply_plan(planned.plan, session, store, salts=planned.salts,
                                  options=options(), progress=LogProgress(log))
        emu.faults = Faults()
        assert result.ok, log.getvalue() + apply_summary(result)
        instances = emu.store.list_instances(MAIN_ID, time.time())
        templates = sorted(i.template for i in instances)
        # Exactly one instance per template: nothing was installed twice.
        assert templates == sorted(set(templates))
        assert set(templates) == {"coredns", "metrics-server", "npd", "volcano", "autoscaler"}
        state = store.read("t-main")
        assert state is not None
        assert {n: (a.uid, a.version) for n, a in state.addons.items()} == {
            i.template: (i.id, i.version) for i in instances
        }
        again = (await plan(session, store, path)).plan
        assert not again.has_changes
