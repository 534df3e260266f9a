"""Issue 21: applies on PostgreSQL state crashed in 1 of 6 runs
(``OutOfOrderTransactionNesting``): the threads that write each cluster's state
shared one connection. Here 20 applies of a 30-cluster fleet, each writing all
30 clusters at once (``--parallelism 30``), as real processes against the
emulator on a socket: every run records every add-on, none shows a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PostgresServer

from tests.builders.fleet import Fleet, fleet_env, served_fleet

pytestmark = pytest.mark.slow  # ~1-2 min: 20 applies of 30 clusters

CLUSTERS = 30
RUNS = 20


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """30 generated clusters on a socket, their file without its rollout (all at once)."""
    with served_fleet(tmp_path, CLUSTERS) as served:
        desired = tmp_path / "fleet.yaml"
        text = desired.read_text(encoding="utf-8")
        desired.write_text(re.sub(r"(?m)^rollout:\n(?:  .*\n)+", "", text), encoding="utf-8")
        yield served


def test_twenty_applies_of_thirty_clusters_on_postgres(
        tmp_path: Path, fleet: Fleet, postgres_server: PostgresServer) -> None:
    database = postgres_server.new_database()
    url = postgres_server.url(database)
    env = fleet_env(fleet, {k: v for k, v in os.environ.items()
                            if not k.startswith(("AWS_", "HW_", "PG", "RECONCILER_",
                                                 "CLOUD_SDK_"))})
    env["RECONCILER_STATE"] = url
    assert "rollout:" not in (tmp_path / "fleet.yaml").read_text(encoding="utf-8")
    for run in range(RUNS):
        if run:
            # Forget what was recorded, so that every run records all 30 clusters again.
            with psycopg.connect(host=postgres_server.host, port=postgres_server.port,
                                 user="postgres", dbname=database, autocommit=True) as conn:
                conn.execute("DELETE FROM reconciler_journal")
                conn.execute("DELETE FROM reconciler_state")
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "apply", "fleet.yaml", "--auto-approve",
             "--parallelism", str(CLUSTERS), "--poll-interval", "0.05"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"run {run}:\n{output}"
        assert "Traceback" not in output and "Error:" not in output, f"run {run}:\n{output}"
        with psycopg.connect(host=postgres_server.host, port=postgres_server.port,
                             user="postgres", dbname=database) as conn:
            states = conn.execute("SELECT count(*) FROM reconciler_state").fetchone()
        assert states == (CLUSTERS,), f"run {run}: {states} states recorded\n{output}"
    assert not (tmp_path / ".reconciler" / "state").exists()
