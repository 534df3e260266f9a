"""The pace of an endpoint: ``--rate-limit R``, and the adaptation to 429s.

Unit tests drive :class:`Pace` on a hand-moved clock; the others run the real
client against the real emulator on a socket behind its 429 gateway, which
counts every response it gives (none lost, none repeated beyond retries)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from conftest import FakeClock, serve_emulator

from reconciler.cli import cli
from reconciler.cloud import CloudSession, Credentials, RetryPolicy
from reconciler.cloud.pacing import Pace
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path

PROD = "6b400e1c-4368-11f0-ba56-0255ac100037"
EXAMPLES = Path(__file__).parents[2] / "examples"


def _accept(pace: Pace, clock: FakeClock, per_s: float, seconds: float) -> None:
    for _ in range(round(per_s * seconds)):
        clock.advance(1 / per_s)
        pace.accepted()


def test_a_429_cuts_to_just_below_what_the_gateway_let_through() -> None:
    clock = FakeClock()
    pace = Pace(clock=clock)
    _accept(pace, clock, 100, 2.0)
    assert pace.rate is None  # no 429 yet: not paced
    pace.throttled()
    assert pace.rate == pytest.approx(95, abs=1.5)
    clock.advance(0.05)
    pace.throttled()  # the same overrun answered twice: one cut
    assert pace.cuts == 1


async def test_the_rate_climbs_back_while_no_429_comes() -> None:
    clock = FakeClock()
    pace = Pace(clock=clock)
    _accept(pace, clock, 100, 2.0)
    pace.throttled()
    clock.advance(1.0)
    await pace.wait()
    assert pace.rate is not None and 95 < pace.rate < 105
    clock.advance(30.0)
    await pace.wait()
    assert pace.rate is None  # the limit is gone: unpaced again


async def test_a_given_rate_is_the_ceiling_and_still_backs_off() -> None:
    clock = FakeClock()
    pace = Pace(50.0, clock=clock)
    assert pace.rate == 50.0
    _accept(pace, clock, 30, 2.0)
    pace.throttled()  # the gateway only let 30/s through: below the given 50
    assert pace.rate == pytest.approx(28.5, abs=1)
    clock.advance(60.0)
    await pace.wait()
    assert pace.rate == 50.0


def test_a_few_answers_say_nothing_of_a_limit_yet() -> None:
    clock = FakeClock()
    pace = Pace(clock=clock)
    _accept(pace, clock, 100, 0.03)
    pace.throttled()
    assert pace.rate is None and pace.cuts == 0


def test_random_429s_do_not_spiral_the_pace_down() -> None:
    clock = FakeClock()
    pace = Pace(clock=clock)
    _accept(pace, clock, 100, 2.0)
    rate = 100.0
    for _ in range(20):  # every cut halves what gets accepted, and 429s keep coming
        pace.throttled()
        rate = pace.rate or rate
        _accept(pace, clock, max(rate / 2, 1), 0.5)
    assert pace.rate is not None and pace.rate >= 40


# --- against the emulator's gateway, on a socket --------------------------------


class _Counted:
    """The emulator's app, counting the responses it starts by status."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.statuses: list[int] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting(message: Any) -> None:
            if message.get("type") == "http.response.start":
                self.statuses.append(int(message["status"]))
            await send(message)

        await self.emulator.app(scope, receive, counting)


@pytest.fixture
def gateway() -> Iterator[tuple[str, _Counted]]:
    """The demo behind a gateway of 40 requests/s (``Retry-After: 1``)."""
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())
    emulator.faults.rate_limit_per_s = 40
    emulator.faults.retry_after_s = 1
    counted = _Counted(emulator)
    with serve_emulator(cast(Emulator, counted)) as url:
        yield url, counted


async def _reads(url: str, counted: _Counted, reads: int,
                 rate_limit: float | None) -> tuple[CloudSession, float]:
    account = counted.emulator.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key)
    async with CloudSession(concurrency=20, rate_limit_per_s=rate_limit, credentials=credentials,
                            retry=RetryPolicy(max_attempts=8)) as session:
        client = session.client(url, "ap-southeast-1", account.project_id)
        started = time.monotonic()
        found = await asyncio.gather(*(client.get_cluster(PROD) for _ in range(reads)))
        elapsed = time.monotonic() - started
    assert [c.id for c in found] == [PROD] * reads
    return session, elapsed


async def test_with_a_rate_limit_the_gateway_never_refuses(
        gateway: tuple[str, _Counted]) -> None:
    url, counted = gateway
    session, elapsed = await _reads(url, counted, 60, rate_limit=40.0)
    assert counted.statuses == [200] * 60  # evenly spaced: not one 429
    assert session.request_count == 60
    assert elapsed >= 59 / 40 * 0.95


async def test_without_one_the_pace_learns_the_limit_from_429s(
        gateway: tuple[str, _Counted]) -> None:
    url, counted = gateway
    reads = 160
    session, _ = await _reads(url, counted, reads, rate_limit=None)
    refused = counted.statuses.count(429)
    # Every read answered 200 exactly once; every request the client sent was seen.
    assert counted.statuses.count(200) == reads
    assert len(counted.statuses) == session.request_count == reads + refused
    pace = session.paces[url]
    assert pace.cuts >= 1 and pace.rate is not None and 20 <= pace.rate <= 60
    # The first second overruns the gateway (its burst hides the limit); after
    # that the pace holds: without it every second refuses all but 40 again.
    assert refused <= 160, refused  # measured: ~115 with the pace, ~210 without


# --- the flag ------------------------------------------------------------------------


def test_plan_with_rate_limit_stays_under_the_gateway(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``plan --rate-limit 5`` against a gateway of 5/s (a burst of 5): the demo's
    reads are spaced, and not one is refused."""
    shutil.copy(EXAMPLES / "demo.yaml", tmp_path / "demo.yaml")
    monkeypatch.chdir(tmp_path)
    emulator = Emulator(load_scenario(demo_scenario_path()))
    emulator.faults.rate_limit_per_s = 5
    counted = _Counted(emulator)
    with serve_emulator(cast(Emulator, counted)) as url:
        env = {"HW_ACCESS_KEY": emulator.account.access_key,
               "HW_SECRET_KEY": emulator.account.secret_key, "NO_COLOR": "1"}
        result = CliRunner().invoke(
            cli, ["plan", "demo.yaml", "--endpoint", url, "--rate-limit", "5"], env=env)
    assert result.exit_code == 0, result.output[-3000:] + result.stderr
    assert len(counted.statuses) > 5 and set(counted.statuses) == {200}
    assert emulator.account.secret_key not in result.output + result.stderr


@pytest.mark.parametrize("value", ["0", "-1", "fast"])
def test_a_bad_rate_limit_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = CliRunner().invoke(cli, ["plan", str(tmp_path / "x.yaml"), "--rate-limit", value])
    assert result.exit_code == 1  # 2 means "changes" for plan: usage errors are 1 here
    assert "--rate-limit" in result.output and "Traceback" not in result.output
