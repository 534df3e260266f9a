"""Render the plans of examples/ against fresh packaged emulators into plans/.

    .venv/bin/python plans/regenerate.py          # rewrite plans/*
    .venv/bin/python plans/regenerate.py --check  # exit 1 if any file is out of date

Each example is planned from scratch (a new emulator state and no state
files, in a temporary directory), with fixed salts and a fixed example secret,
so the output only changes when the code, the examples or the packaged
scenarios (emulator://demo, emulator://fleet) do.
tests/test_plans_up_to_date.py runs the check.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cloud import CloudSession
from reconciler.config import load_desired
from reconciler.model.trust import EnvRule
from reconciler.planfile.codec import plan_to_json
from reconciler.run.plan import make_plan
from reconciler.statemgr import StateStore
from reconciler.views import render_plan

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"
EXAMPLE_ENV = {"AUTOSCALER_TOKEN": "example-only-not-a-real-token"}


@dataclass(frozen=True)
class Example:
    name: str
    files: tuple[str, ...]
    var_files: tuple[str, ...] = ()


EXAMPLES = (
    Example("demo", ("examples/demo.yaml",)),
    Example("multi-env-staging", ("examples/multi-env/fleet.yaml",),
            ("examples/multi-env/staging.vars.yaml",)),
    Example("multi-env-prod", ("examples/multi-env/fleet.yaml",),
            ("examples/multi-env/prod.vars.yaml",)),
    # Labels, profiles, constraints resolved per cluster, waves and grouped diffs.
    Example("fleet", ("examples/fleet.yaml",)),
)


async def _render(example: Example) -> dict[str, str]:
    desired = load_desired(
        [ROOT / f for f in example.files],
        var_files=[ROOT / f for f in example.var_files],
        environ=EXAMPLE_ENV,
        allowed_env=EnvRule(tuple(EXAMPLE_ENV)),  # as README's --allow-env AUTOSCALER_TOKEN
    )
    # Paths in the plan are shown relative to the repository, as a user types them.
    desired = dataclasses.replace(
        desired, files=tuple(str(Path(f).resolve().relative_to(ROOT)) for f in desired.files)
    )
    salts = {c.name: hashlib.sha256(f"plans/{c.name}".encode()).hexdigest()[:32]
             for c in desired.clusters}
    with tempfile.TemporaryDirectory() as tmp:
        async with CloudSession(in_process=EmulatorServices(Path(tmp))) as session:
            result = await make_plan(desired, session, StateStore(Path(tmp) / "state"),
                                     new_salts=salts)
    data = plan_to_json(result.plan, salts=result.salts)
    return {
        f"{example.name}.md": render_plan(data, "markdown"),
        f"{example.name}.plan.json": render_plan(data, "json"),
    }


def rendered() -> dict[str, str]:
    out: dict[str, str] = {}
    for example in EXAMPLES:
        out.update(asyncio.run(_render(example)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Render the example plans into plans/.")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for name, text in rendered().items():
        path = PLANS / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date: " + ", ".join(stale) + " (run: python plans/regenerate.py)")
        return 1
    print(("rewrote " if stale else "up to date: ") + ", ".join(stale or ["all plans"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
