"""Waiting for an add-on instance to settle after a write.

An instance is polled (``GET …/addons/{id}``) no more than once per
``poll_interval_s`` until it is ``running`` or ``available``. Failure is
detected as early as the API allows: a failed status stops at once, and
``abnormal`` only after a grace period (an add-on may pass through it while
its pods start). The status ``Reason`` and ``message`` are kept for the user.

Before a write, an instance that is mid-operation (an earlier apply that was
killed, a console upgrade, a PUT whose answer was lost) is waited for until it
settles, whatever it settles to: what to do next is decided on what it became.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from reconciler.cloud import CceClient, CloudError, NotFoundError
from reconciler.kit.polling import PollTimeout, poll_until
from reconciler.model.live import (
    FAILED_STATUSES,
    IN_PROGRESS_STATUSES,
    READY_STATUSES,
    AddonInstance,
)

__all__ = ["AddonFailure", "WaitPolicy", "wait_deleted", "wait_healthy", "wait_settled"]


@dataclass(frozen=True)
class WaitPolicy:
    timeout_s: float = 1800.0
    """Default time an add-on may take to become healthy (``timeout_seconds`` overrides)."""
    poll_interval_s: float = 1.0
    """Never poll one instance more often than this."""
    abnormal_grace_s: float = 60.0
    """How long ``abnormal`` is tolerated before it counts as a failure."""


class AddonFailure(Exception):
    """The instance failed, vanished or did not settle in time."""

    def __init__(
        self, what: str, *, status: str = "", reason: str = "", message: str = ""
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        details = [f"status {status}"] if status else []
        details += [f"Reason: {reason}"] if reason else []
        details += [f"message: {message}"] if message else []
        super().__init__(what + (f" ({'; '.join(details)})" if details else ""))


async def wait_healthy(
    client: CceClient,
    cluster_id: str,
    instance_id: str,
    policy: WaitPolicy,
    *,
    timeout_s: float | None = None,
) -> AddonInstance:
    """Poll until ``running``/``available``; raise ``AddonFailure`` otherwise."""
    limit = timeout_s if timeout_s is not None else policy.timeout_s
    abnormal_since: float | None = None
    last_status = ""
    last_error: CloudError | None = None

    async def look() -> AddonInstance | None:
        """The instance, or None for a read that failed and is worth riding out."""
        nonlocal last_error
        try:
            return await client.get_instance(instance_id, cluster_id)
        except NotFoundError as err:
            raise AddonFailure("the instance disappeared while waiting for it") from err
        except CloudError as err:
            # The client already retried; a flaky read does not mean the
            # add-on failed, so keep waiting until the deadline.
            last_error = err
            return None

    def healthy(instance: AddonInstance | None) -> bool:
        nonlocal abnormal_since, last_status
        if instance is None:
            return False
        status = instance.status
        last_status = status.status
        if status.status in READY_STATUSES:
            return True
        if status.status in FAILED_STATUSES:
            raise AddonFailure(
                "the add-on failed",
                status=status.status,
                reason=status.reason,
                message=status.message,
            )
        if status.status == "abnormal":
            now = time.monotonic()
            abnormal_since = abnormal_since if abnormal_since is not None else now
            if now - abnormal_since >= policy.abnormal_grace_s:
                raise AddonFailure(
                    f"the add-on stayed abnormal for {policy.abnormal_grace_s:g}s",
                    status=status.status,
                    reason=status.reason,
                    message=status.message,
                )
        else:
            abnormal_since = None
        return False

    try:
        found = await poll_until(
            look, healthy, deadline=time.monotonic() + limit, interval=policy.poll_interval_s
        )
    except PollTimeout:
        suffix = f"; last error: {last_error}" if last_error and not last_status else ""
        raise AddonFailure(
            f"did not become healthy within {limit:g}s{suffix}", status=last_status
        ) from None
    assert found is not None  # healthy() accepts only an instance
    return found


async def wait_settled(
    client: CceClient,
    cluster_id: str,
    instance_id: str,
    policy: WaitPolicy,
    *,
    timeout_s: float | None = None,
) -> AddonInstance | None:
    """Poll until the instance is no longer in progress (installing, upgrading,
    rollbacking, deleting); the instance then, or None once it is gone. Raises
    ``AddonFailure`` if it is still in progress after the timeout."""
    limit = timeout_s if timeout_s is not None else policy.timeout_s
    last_status = ""

    async def look() -> AddonInstance | str | None:
        """The instance; None once gone; "" for a failed read (ridden out)."""
        try:
            return await client.get_instance(instance_id, cluster_id)
        except NotFoundError:
            return None
        except CloudError:
            return ""

    def settled(found: AddonInstance | str | None) -> bool:
        nonlocal last_status
        if found is None:
            return True
        if isinstance(found, str):
            return False
        last_status = found.status.status
        return last_status not in IN_PROGRESS_STATUSES

    try:
        found = await poll_until(
            look, settled, deadline=time.monotonic() + limit, interval=policy.poll_interval_s
        )
    except PollTimeout:
        raise AddonFailure(
            f"the operation in flight did not finish within {limit:g}s", status=last_status
        ) from None
    assert not isinstance(found, str)  # settled() accepts only an instance or None
    return found


async def wait_deleted(
    client: CceClient,
    cluster_id: str,
    instance_id: str,
    policy: WaitPolicy,
    *,
    timeout_s: float | None = None,
) -> None:
    """Poll until the instance answers 404; ``deleteFailed`` raises at once."""
    limit = timeout_s if timeout_s is not None else policy.timeout_s
    last_status = ""

    async def look() -> str | None:
        """The instance's status; None once it is gone, "" for a failed read
        (ridden out like a status that is not final yet)."""
        try:
            instance = await client.get_instance(instance_id, cluster_id)
        except NotFoundError:
            return None
        except CloudError:
            return ""
        if instance.status.status == "deleteFailed":
            raise AddonFailure(
                "the delete failed",
                status=instance.status.status,
                reason=instance.status.reason,
                message=instance.status.message,
            )
        return instance.status.status

    def gone(status: str | None) -> bool:
        nonlocal last_status
        if status:
            last_status = status
        return status is None

    try:
        await poll_until(
            look, gone, deadline=time.monotonic() + limit, interval=policy.poll_interval_s
        )
    except PollTimeout:
        raise AddonFailure(f"was not deleted within {limit:g}s", status=last_status) from None
