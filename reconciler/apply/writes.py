"""The writes of one add-on change: send it, then wait until CCE says it settled.

The per-cluster run (run/apply.py) decides *whether* a change is written
(lock, freshness, checks, dependencies) and records what happened (state,
journal, result); this module only talks to CCE. Every write that failed
ambiguously (install, update, delete, rollback) is looked for before it is
sent again (apply/ambiguous.py), and a failed upgrade with ``on_failure:
rollback`` is rolled back here.
"""

from __future__ import annotations

import contextlib

from reconciler.apply.ambiguous import Verdict, put_verdict, retry_ambiguous
from reconciler.apply.waiting import (
    AddonFailure,
    WaitPolicy,
    wait_deleted,
    wait_healthy,
    wait_settled,
)
from reconciler.cloud import CceClient, CloudError, NotFoundError
from reconciler.model.apply import Outcome, Progress
from reconciler.model.live import IN_PROGRESS_STATUSES, READY_STATUSES, AddonInstance
from reconciler.model.plan import Action, Change

__all__ = ["REPAIR_GUIDANCE", "AddonWriter"]

REPAIR_GUIDANCE = (
    "if it keeps failing, fix the cause CCE reports (or pick another version); to "
    "re-install it instead, declare it `state: absent`, apply, then declare it again"
)
"""What to do when a repair does not take (docs/actions.md): a delete is never
implied by a repair, so the way to a fresh install is the user's to choose."""

_ROLLS_BACK = frozenset({Action.UPGRADE, Action.DOWNGRADE, Action.REPAIR})
"""Version-moving PUTs whose failure ``on_failure: rollback`` may undo (CCE
says whether it can: ``isRollbackable``)."""

_VERBS = {
    Action.INSTALL: "installing",
    Action.UPGRADE: "upgrading",
    Action.UPDATE: "updating",
    Action.REPAIR: "repairing",
    Action.DOWNGRADE: "downgrading",
    Action.DELETE: "deleting",
    Action.ADOPT: "adopting",
}


class AddonWriter:
    """Writes the changes of one cluster (``cluster`` names it in progress lines)."""

    def __init__(
        self,
        client: CceClient,
        cluster_id: str,
        cluster: str,
        wait: WaitPolicy,
        progress: Progress,
    ) -> None:
        self.client = client
        self.cluster_id = cluster_id
        self.cluster = cluster
        self.wait = wait
        self.progress = progress

    async def write(
        self, change: Change, instance: AddonInstance | None
    ) -> AddonInstance | None:
        """Write ``change`` and wait for it; the settled instance, or None once
        deleted. An adoption that changes nothing writes nothing and returns
        the live ``instance``. Raises ``AddonFailure`` (the add-on did not
        settle: see ``after_failure``) or ``CloudError`` (the write failed)."""
        versions = change.after_version or change.before_version
        if change.before_version and change.before_version != versions:
            versions = f"{change.before_version} → {change.after_version}"
        self.progress.step(self.cluster, f"{change.addon}: {_VERBS[change.action]} {versions}")
        if change.action is Action.DELETE:
            await self.delete(change)
            return None
        if change.action is Action.INSTALL:
            return await self.install(change)
        if change.action is Action.ADOPT and not change.field_changes:
            if instance is None:
                raise AddonFailure("the instance to adopt is gone")
            if instance.status.status not in READY_STATUSES:
                # Recording it would call a broken add-on converged; the next
                # plan repairs it (or waits for the operation in flight).
                raise AddonFailure(
                    f"not adopted: the instance is {instance.status.status}"
                    + (f" ({instance.status.reason})" if instance.status.reason else "")
                    + "; plan again"
                )
            return instance
        return await self.update(change)

    async def install(self, change: Change) -> AddonInstance:
        cid = self.cluster_id
        created = await retry_ambiguous(
            lambda: self.client.install(
                cid, change.addon, change.after_version or None, change.values
            ),
            # The POST may have worked: look before trying again, so an
            # add-on is never installed twice.
            look=lambda: self.client.find_instance(cid, change.addon),
        )
        return await wait_healthy(
            self.client, cid, created.uid, self.wait, timeout_s=change.timeout_seconds
        )

    async def update(self, change: Change) -> AddonInstance:
        cid = self.cluster_id
        version = change.after_version or change.before_version

        async def put() -> AddonInstance:
            return await self.client.update(
                change.instance_id, cid, change.addon, version, change.values,
                upgrade=version != change.before_version,
            )

        async def took_effect() -> AddonInstance | None:
            # The answer was lost, not necessarily the PUT: a blind repeat
            # meets our own upgrade in flight (400 "is upgrading").
            now = await self.client.get_instance(change.instance_id, cid)
            if put_verdict(now, version, change.values) is Verdict.WAIT:
                self.progress.step(
                    self.cluster, f"{change.addon}: the answer to the write was lost; waiting"
                    f" for the operation in flight ({now.status.status})")
                settled = await self.settle(change, change.instance_id)
                if settled is None:
                    raise AddonFailure("the instance disappeared while waiting for it")
                now = settled
            return now if put_verdict(now, version, change.values) is Verdict.DONE else None

        await retry_ambiguous(put, look=took_effect)
        return await wait_healthy(
            self.client, cid, change.instance_id, self.wait, timeout_s=change.timeout_seconds
        )

    async def delete(self, change: Change) -> None:
        cid = self.cluster_id

        async def send() -> bool:
            with contextlib.suppress(NotFoundError):
                await self.client.delete(change.instance_id, cid)
            return True

        async def started() -> bool | None:
            # Gone or deleting: the DELETE whose answer was lost took effect.
            try:
                now = await self.client.get_instance(change.instance_id, cid)
            except NotFoundError:
                return True
            if now.status.status == "deleting":
                return True
            if now.status.status in IN_PROGRESS_STATUSES:
                await self.settle(change, change.instance_id)
            return None

        await retry_ambiguous(send, look=started)
        await wait_deleted(
            self.client, cid, change.instance_id, self.wait, timeout_s=change.timeout_seconds
        )
        # Read back: a 404 proves only that this id is gone from this cluster, not
        # that the add-on is (an id that was never the cluster's answers 404 too).
        still = await self.client.find_instance(cid, change.addon)
        if still is not None:
            raise AddonFailure(
                f"the delete did not take: the cluster still runs {change.addon}"
                f" as instance {still.uid}",
                status=still.status.status,
            )

    async def settle(self, change: Change, instance_id: str) -> AddonInstance | None:
        """Wait (bounded by the add-on's timeout) for the operation in flight on
        ``instance_id`` to finish; the instance then, None if it is gone."""
        return await wait_settled(
            self.client, self.cluster_id, instance_id, self.wait,
            timeout_s=change.timeout_seconds,
        )

    async def rollback(self, change: Change) -> AddonInstance:
        cid = self.cluster_id

        async def started() -> AddonInstance | None:
            # A rollback that did start must not be sent twice.
            now = await self.client.get_instance(change.instance_id, cid)
            return now if _rolled_back_or_rolling(now, change.after_version) else None

        return await retry_ambiguous(
            lambda: self.client.rollback(change.instance_id, cid), look=started
        )

    async def after_failure(self, change: Change, err: AddonFailure) -> tuple[Outcome, str]:
        """The outcome of a change whose add-on did not settle: a failed
        upgrade is rolled back when the change asks for it and CCE allows it."""
        message = str(err)
        if change.action is Action.REPAIR:
            message += f"; {REPAIR_GUIDANCE}"
        if change.action not in _ROLLS_BACK or change.on_failure != "rollback":
            return Outcome.FAILED, message
        cid = self.cluster_id
        try:
            instance = await self.client.get_instance(change.instance_id, cid)
            if not instance.status.is_rollbackable:
                return Outcome.FAILED, message + "; not rolled back: CCE says it can't be"
            self.progress.step(self.cluster, f"{change.addon}: rolling back")
            await self.rollback(change)
            back = await wait_healthy(
                self.client, cid, change.instance_id, self.wait,
                timeout_s=change.timeout_seconds,
            )
        except (CloudError, AddonFailure) as rollback_err:
            return Outcome.FAILED, f"{message}; the rollback failed too: {rollback_err}"
        return Outcome.ROLLED_BACK, f"{message}; rolled back to {back.version}"


def _rolled_back_or_rolling(instance: AddonInstance, failed_version: str) -> bool:
    return instance.status.status == "rollbacking" or instance.version != failed_version
