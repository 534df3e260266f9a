"""The client against the real emulator, in-process (``InProcessTransport``)
and on a socket (uvicorn): every method, and the emulator's own fault
injection (429 storms, 500s, latency beyond the timeout, dropped connections).
The emulator verifies our AK/SK signatures from the wire on every request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli.inprocess import EmulatorServices
from reconciler.cloud import (
    CceClient,
    CloudError,
    CloudSession,
    Credentials,
    NotFoundError,
    PrecheckItem,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from reconciler.cloud.preflight import PreflightError
from reconciler.cloud.transport import InProcessTransport
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from reconciler.model.live import AddonTemplate, Cluster
from tests.conftest import EmulatorServer, FakeClock

PROD = "6b400e1c-4368-11f0-ba56-0255ac100037"
STAGING = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
FAST = RetryPolicy(max_attempts=6, base_delay_s=0.001, max_delay_s=0.01)


@dataclass
class Target:
    """One emulator, reachable one way; ``session`` makes clients for it."""

    emulator: Emulator
    clock: FakeClock
    endpoint: str
    transport: httpx.AsyncBaseTransport | None

    @asynccontextmanager
    async def session(self, **args: Any) -> AsyncIterator[tuple[CloudSession, CceClient]]:
        account = self.emulator.account
        credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key)
        async with CloudSession(
            credentials=credentials, transport=self.transport, **{"retry": FAST, **args}
        ) as session:
            yield session, session.client(self.endpoint, "ap-southeast-1", account.project_id)


@pytest.fixture(params=["asgi", "socket"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "socket":
        server: EmulatorServer = request.getfixturevalue("emulator_server")
        yield Target(server.emulator, server.clock, server.url, None)
        return
    clock = FakeClock()
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=clock)
    yield Target(emulator, clock, "http://cce.local", InProcessTransport(emulator.app))


def default_values(template: AddonTemplate, version: str) -> dict[str, Any]:
    tv = template.version(version)
    assert tv is not None
    flavor = next(iter(tv.flavors.values()), None)
    values: dict[str, Any] = {"basic": dict(tv.basic), "custom": dict(tv.custom)}
    if flavor is not None:
        values["flavor"] = dict(flavor)
    return values


def newest_supported(template: AddonTemplate, cluster: Cluster) -> str:
    fits = [
        v.version
        for v in template.versions
        if v.supports(cluster.type, cluster.category, cluster.version)
    ]
    assert fits, f"{template.name} has no version for {cluster.version}"
    return fits[-1]


async def test_every_method_against_the_emulator(target: Target) -> None:
    async with target.session() as (session, client):
        clusters = {c.name: c for c in await client.list_clusters()}
        assert set(clusters) == {"demo-prod", "demo-staging", "demo-legacy"}
        staging = await client.get_cluster(STAGING)
        assert staging == clusters["demo-staging"] and staging.phase == "Available"
        # Labels come from the cluster metadata (what `reconciler init` writes).
        assert {n: dict(c.labels) for n, c in clusters.items()} == {
            "demo-prod": {"env": "prod"}, "demo-staging": {"env": "staging"},
            "demo-legacy": {"env": "legacy"}}
        assert dict(staging.labels) == {"env": "staging"}

        templates = {t.name: t for t in await client.list_templates()}
        assert {"coredns", "npd", "metrics-server"} <= set(templates)
        (coredns,) = await client.list_templates("coredns")
        assert coredns == templates["coredns"]

        installed = {i.template_name: i for i in await client.list_instances(STAGING)}
        assert "npd" not in installed
        one = await client.get_instance(installed["coredns"].uid, STAGING)
        assert one.uid == installed["coredns"].uid and one.status.status == "running"

        # install → running
        npd_version = newest_supported(templates["npd"], staging)
        npd = await client.install(
            STAGING, "npd", npd_version, default_values(templates["npd"], npd_version)
        )
        assert npd.status.status == "installing" and npd.template_name == "npd"
        target.clock.advance(3600)
        found = await client.find_instance(STAGING, "npd")
        assert found is not None and found.uid == npd.uid and found.status.status == "running"

        # upgrade → running, rollbackable → rollback → previous version
        metrics = installed["metrics-server"]
        newer = newest_supported(templates["metrics-server"], staging)
        assert newer != metrics.version
        upgraded = await client.update(
            metrics.uid,
            STAGING,
            "metrics-server",
            newer,
            default_values(templates["metrics-server"], newer),
            upgrade=True,
        )
        assert upgraded.status.status == "upgrading" and upgraded.version == newer
        target.clock.advance(3600)
        done = await client.get_instance(metrics.uid, STAGING)
        assert done.status.status == "running" and done.status.is_rollbackable
        assert done.status.previous_version == metrics.version
        rolling = await client.rollback(metrics.uid, STAGING)
        assert rolling.status.status == "rollbacking"
        target.clock.advance(3600)
        assert (await client.get_instance(metrics.uid, STAGING)).version == metrics.version

        # add-on precheck: the demo's edited corefile fails AddonValidate (Fatal)
        prod_coredns = next(
            i for i in await client.list_instances(PROD) if i.template_name == "coredns"
        )
        prod = await client.get_cluster(PROD)
        target_version = newest_supported(templates["coredns"], prod)
        tasks = await client.create_addon_precheck(
            PROD, [PrecheckItem("coredns", prod_coredns.uid, target_version=target_version)]
        )
        assert [t.instance_id for t in tasks] == [prod_coredns.uid]
        target.clock.advance(3600)
        (task,) = await client.list_addon_precheck_tasks(PROD, task_id=tasks[0].task_id)
        assert task.finished and task.status == "Failed"
        assert any(
            r.name == "AddonValidate" and r.level == "Fatal" and r.status == "Failed"
            for r in task.risks
        )
        by_instance = await client.list_addon_precheck_tasks(
            PROD, type="addonUpgrade", instance_id=prod_coredns.uid
        )
        assert task.task_id in {t.task_id for t in by_instance}

        # cluster precheck
        cluster_task = await client.create_cluster_precheck(PROD, "v1.30", prod.version)
        assert cluster_task.uid
        target.clock.advance(3600)
        assert cluster_task.uid in {t.uid for t in await client.list_cluster_precheck_tasks(PROD)}
        shown = await client.get_cluster_precheck(PROD, cluster_task.uid)
        assert shown.finished and shown.target_version.startswith("v1.30")

        # delete → 404
        await client.delete(npd.uid, STAGING)
        target.clock.advance(3600)
        with pytest.raises(NotFoundError) as caught:
            await client.get_instance(npd.uid, STAGING)
        assert caught.value.status == 404 and caught.value.code

        assert session.request_count == target.emulator.request_count


async def test_wrong_secret_is_an_authentication_error(target: Target) -> None:
    account = target.emulator.account
    bad = Credentials(access_key=account.access_key, secret_key="not-the-secret")
    async with CloudSession(credentials=bad, transport=target.transport) as session:
        client = session.client(target.endpoint, "r", account.project_id)
        with pytest.raises(CloudError) as caught:
            await client.list_clusters()
    assert caught.value.status == 401 and type(caught.value).__name__ == "AuthenticationError"


async def test_token_mode_against_the_emulator(target: Target) -> None:
    account = target.emulator.account
    async with CloudSession(
        credentials=Credentials(token=account.token), transport=target.transport
    ) as session:
        clusters = await session.client(target.endpoint, "r", account.project_id).list_clusters()
    assert len(clusters) == 3


async def test_429_storm_and_500s_are_retried_through(target: Target) -> None:
    target.emulator.faults.throttle_rate = 0.5
    target.emulator.faults.error_rate = 0.3
    target.emulator.faults.retry_after_s = 0
    async with target.session(
        retry=RetryPolicy(max_attempts=30, base_delay_s=0.001, max_delay_s=0.002)
    ) as (session, client):
        for _ in range(5):
            assert len(await client.list_instances(PROD)) == 5
        assert session.request_count > 5  # faults happened and were retried


async def test_gives_up_cleanly_when_every_answer_is_a_500(target: Target) -> None:
    target.emulator.faults.error_rate = 1.0
    async with target.session() as (session, client):
        with pytest.raises(ServerError) as caught:
            await client.list_instances(PROD)
    assert session.request_count == FAST.max_attempts
    assert caught.value.code == "CCE.03500001" and caught.value.request_id


async def test_dropped_connections_retried_for_reads(target: Target) -> None:
    target.emulator.faults.drop_rate = 0.5
    async with target.session(
        retry=RetryPolicy(max_attempts=30, base_delay_s=0.001, max_delay_s=0.002)
    ) as (_, client):
        for _ in range(4):
            assert {c.name for c in await client.list_clusters()} >= {"demo-prod"}


@pytest.mark.parametrize("fault", ["error_rate", "drop_rate"])
async def test_install_never_duplicated_after_ambiguous_failures(
    target: Target, fault: str
) -> None:
    """Do what the apply layer does: on an ambiguous failure, look, then retry
    only if nothing happened. The emulator ends with exactly one instance."""
    async with target.session() as (_, client):
        templates = {t.name: t for t in await client.list_templates()}
        staging = await client.get_cluster(STAGING)
        version = newest_supported(templates["npd"], staging)
        values = default_values(templates["npd"], version)
        setattr(target.emulator.faults, fault, 1.0)
        ambiguous = 0
        for _ in range(3):
            before = target.emulator.request_count
            try:
                await client.install(STAGING, "npd", version, values)
            except (ServerError, TransportError) as err:
                assert err.ambiguous and "find_instance" in str(err)
                assert target.emulator.request_count == before + 1  # not repeated
                ambiguous += 1
            setattr(target.emulator.faults, fault, 0.0)
            if await client.find_instance(STAGING, "npd") is not None:
                break
        assert ambiguous == 1
        npds = [i for i in await client.list_instances(STAGING) if i.template_name == "npd"]
    assert len(npds) == 1


async def test_latency_beyond_the_timeout(target: Target) -> None:
    target.emulator.faults.latency_ms = 300
    async with target.session(
        timeout_s=0.05, retry=RetryPolicy(max_attempts=2, base_delay_s=0.001)
    ) as (session, client):
        with pytest.raises(RequestTimeoutError) as caught:
            await client.list_clusters()
        assert session.request_count == 2 and not caught.value.ambiguous
        with pytest.raises(RequestTimeoutError) as caught:
            await client.install(STAGING, "npd", None, {"custom": {}})
        assert caught.value.ambiguous and session.request_count == 3


async def test_emulator_endpoint_runs_the_packaged_scenario_and_persists(tmp_path: Path) -> None:
    services = EmulatorServices(tmp_path)
    async with CloudSession(in_process=services) as session:
        client = session.client("emulator://demo", "ap-southeast-1", "")
        again = session.client("emulator://demo", "ap-southeast-1", "")
        assert list(services.started) == ["demo"]  # one emulator per NAME per session
        staging = await client.get_cluster(STAGING)
        templates = {t.name: t for t in await client.list_templates()}
        version = newest_supported(templates["npd"], staging)
        await again.install(STAGING, "npd", version, default_values(templates["npd"], version))
        assert session.request_count == 3
    assert (tmp_path / "emulator" / "demo.json").is_file()
    # A later run (a fresh resolver, as each command makes) sees the install.
    async with CloudSession(in_process=EmulatorServices(tmp_path)) as later:
        found = await later.client("emulator://demo", "", "").find_instance(STAGING, "npd")
    assert found is not None


async def test_unknown_emulator_scenario_names_the_known_ones(tmp_path: Path) -> None:
    async with CloudSession(in_process=EmulatorServices(tmp_path)) as session:
        with pytest.raises(PreflightError, match=r"'nope'.*emulator://demo"):
            session.client("emulator://nope", "r", "")


async def test_emulator_endpoint_needs_an_in_process_resolver(tmp_path: Path) -> None:
    """The cloud layer serves no emulator of its own: without a resolver an
    ``emulator://`` endpoint is refused before anything is started."""
    async with CloudSession() as session:
        with pytest.raises(CloudError, match="no in-process endpoints"):
            session.client("emulator://demo", "r", "")
    assert not list(tmp_path.iterdir())


async def test_a_corrupt_emulator_state_file_is_a_cloud_error(tmp_path: Path) -> None:
    (tmp_path / "emulator").mkdir()
    (tmp_path / "emulator" / "demo.json").write_text("{not json", encoding="utf-8")
    async with CloudSession(in_process=EmulatorServices(tmp_path)) as session:
        with pytest.raises(CloudError, match="unreadable emulator state file"):
            session.client("emulator://demo", "r", "")


async def test_client_rate_limit_keeps_under_the_gateway_limit() -> None:
    """The emulator's gateway allows 40 requests/s (burst 40). 50 quick reads
    overrun it without a client limit, and never with one at 35/s."""

    async def burst(**args: Any) -> int:
        emulator = Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())
        emulator.faults.rate_limit_per_s = 40
        emulator.faults.retry_after_s = 0
        transport = httpx.ASGITransport(app=emulator.app)
        target = Target(emulator, FakeClock(), "http://cce.local", transport)
        async with target.session(**args) as (session, client):
            await asyncio.gather(*(client.get_cluster(PROD) for _ in range(50)))
            return session.request_count

    patient = RetryPolicy(max_attempts=20, base_delay_s=0.05, max_delay_s=0.3)
    assert await burst(retry=patient) > 50  # throttled, then retried through
    assert await burst(rate_limit_per_s=35.0) == 50
