"""retry_ambiguous: the one look-before-retry loop for writes whose effect is
unknown, and put_verdict: what a look at the instance says about a lost PUT.

The POST and the look are scripted plain functions (the emulator's fault
injection can't pick *which* request fails, and these rules are about order);
the storms in test_apply_faults.py exercise the same loop end to end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from reconciler.apply.ambiguous import (
    POST_ATTEMPTS,
    Verdict,
    post_retry_delay,
    put_verdict,
    retry_ambiguous,
)
from reconciler.cloud import CloudError
from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, InstanceStatus

AMBIGUOUS = CloudError("connection dropped after the request was sent", ambiguous=True)
REFUSED = CloudError("bad request", status=400)


class Script:
    """A POST that fails as told, then answers; counts calls and sleeps."""

    def __init__(self, *failures: CloudError) -> None:
        self.failures = list(failures)
        self.posts = 0
        self.looks = 0
        self.sleeps: list[float] = []

    async def post(self) -> str:
        self.posts += 1
        if self.failures:
            raise self.failures.pop(0)
        return "created"

    def look(self, finds_after: int) -> Callable[[], Awaitable[str | None]]:
        async def look() -> str | None:
            self.looks += 1
            return "found" if self.looks >= finds_after else None
        return look

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def test_ambiguous_failures_are_retried_with_growing_pauses() -> None:
    s = Script(AMBIGUOUS, AMBIGUOUS)
    assert await retry_ambiguous(s.post, sleep=s.sleep) == "created"
    assert s.posts == 3
    assert s.sleeps == [post_retry_delay(1), post_retry_delay(2)] == [0.2, 0.4]


async def test_a_look_that_finds_the_result_ends_it_without_posting_again() -> None:
    s = Script(AMBIGUOUS, AMBIGUOUS)
    assert await retry_ambiguous(s.post, look=s.look(finds_after=2), sleep=s.sleep) == "found"
    assert (s.posts, s.looks, len(s.sleeps)) == (2, 2, 1)


async def test_a_clear_failure_is_not_retried_nor_looked_for() -> None:
    s = Script(REFUSED)
    with pytest.raises(CloudError) as raised:
        await retry_ambiguous(s.post, look=s.look(finds_after=1), sleep=s.sleep)
    assert raised.value is REFUSED
    assert (s.posts, s.looks, s.sleeps) == (1, 0, [])


async def test_gives_up_after_the_attempts_but_looks_after_the_last_one_too() -> None:
    s = Script(*[AMBIGUOUS] * POST_ATTEMPTS)
    with pytest.raises(CloudError) as raised:
        await retry_ambiguous(s.post, look=s.look(finds_after=99), sleep=s.sleep)
    assert raised.value is AMBIGUOUS
    assert (s.posts, s.looks, len(s.sleeps)) == (POST_ATTEMPTS, POST_ATTEMPTS, POST_ATTEMPTS - 1)

    # The last POST did take effect: that is a success, not a failure.
    s = Script(*[AMBIGUOUS] * POST_ATTEMPTS)
    found = await retry_ambiguous(s.post, look=s.look(finds_after=POST_ATTEMPTS), sleep=s.sleep)
    assert found == "found" and s.posts == POST_ATTEMPTS


async def test_without_a_look_the_post_is_simply_sent_again() -> None:
    s = Script(*[AMBIGUOUS] * (POST_ATTEMPTS - 1))
    assert await retry_ambiguous(s.post, sleep=s.sleep) == "created"
    assert s.posts == POST_ATTEMPTS
    assert max(s.sleeps) == post_retry_delay(POST_ATTEMPTS - 1) <= 5.0


SENT: dict[str, JSON] = {"basic": {"image_version": "v0.7.1"}, "custom": {"replicas": 2}}


def instance(status: str, version: str = "1.3.68", values: dict[str, JSON] | None = None
             ) -> AddonInstance:
    return AddonInstance(uid="i-1", name="metrics-server", cluster_id="c-1",
                         template_name="metrics-server", version=version,
                         values=SENT if values is None else values,
                         status=InstanceStatus(status=status))


@pytest.mark.parametrize(
    ("live", "verdict"),
    [
        # CCE sets the target version at PUT time: in flight is our write.
        (instance("upgrading"), Verdict.WAIT),
        (instance("installing", version="1.3.60"), Verdict.WAIT),
        (instance("rollbacking", version="1.3.60"), Verdict.WAIT),
        (instance("running"), Verdict.DONE),
        (instance("available"), Verdict.DONE),
        # Our write landed and failed: not re-sent, the wait reports the failure.
        (instance("upgradeFailed"), Verdict.DONE),
        # Numbers as strings normalise to the same values.
        (instance("running", values={"basic": {"image_version": "v0.7.1"},
                                     "custom": {"replicas": 2.0}}), Verdict.DONE),
        (instance("running", version="1.3.60"), Verdict.RESEND),
        (instance("running", values={**SENT, "custom": {"replicas": 3}}), Verdict.RESEND),
        (instance("upgradeFailed", version="1.3.60"), Verdict.RESEND),
    ],
    ids=["upgrading", "installing", "rollbacking", "running", "available", "landed-failed",
         "numeric-type", "old-version", "other-values", "failed-before"],
)
def test_a_lost_put_is_waited_for_when_in_flight_or_done_and_resent_only_when_absent(
    live: AddonInstance, verdict: Verdict,
) -> None:
    assert put_verdict(live, "1.3.68", SENT) is verdict
