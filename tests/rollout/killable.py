"""A rollout in its own process, for killing it mid-soak (test_rollout_kill.py).

    python killable.py FLEET.yaml STATE_DIR ENDPOINT SOAK_S

Plans the fleet against ENDPOINT (the emulator on a socket), puts the test
waves on the plan and applies it; credentials come from HW_ACCESS_KEY /
HW_SECRET_KEY, the secret from ROLLOUT_TOKEN.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import sys
from pathlib import Path

from reconciler.cloud import CloudSession, Credentials
from reconciler.config import load_desired
from reconciler.run.plan import make_plan
from reconciler.run.rollout import RolloutOptions, apply_rollout
from reconciler.statemgr.local import LocalBackend
from reconciler.views.progress import LogProgress
from reconciler.views.rollout import WaveLines
from rollout.rollout_helpers import ALLOW_ENV, apply_options, waves


async def main(fleet: str, state_dir: str, endpoint: str, soak_s: float) -> None:
    desired = load_desired([fleet], endpoint=endpoint, allowed_env=ALLOW_ENV)
    store = LocalBackend(Path(state_dir))
    credentials = Credentials(access_key=os.environ["HW_ACCESS_KEY"],
                              secret_key=os.environ["HW_SECRET_KEY"],
                              project_id=desired.clusters[0].project_id)
    async with CloudSession(credentials=credentials) as session:
        planned = await make_plan(desired, session, store)
        plan = dataclasses.replace(planned.plan, rollout=waves(soak_s=soak_s))
        await apply_rollout(plan, session, store, salts=planned.salts,
                            options=apply_options(), rollout_options=RolloutOptions(),
                            progress=LogProgress(io.StringIO()),
                            waves_progress=WaveLines(sys.stderr))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
