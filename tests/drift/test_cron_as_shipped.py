"""Issue 21: the cron example went silent on failure. ``drift envs/ --var-file
envs/prod.vars.yaml`` with ``envs/`` laid out like ``examples/multi-env`` read
the var file as a desired-state file (15 errors, exit 1) and wrote no ``.prom``
file, so the ``reconciler_drift_success`` alert never fired.

Here the crontab line and the CronJob's command run in a real shell exactly as
shipped; only their absolute paths are moved under a test directory (and the
CronJob's remote state replaced by a local one). Once against the demo
emulator, once with the endpoint broken: the metrics file is written either
way, with ``reconciler_drift_success 0`` when the clusters can't be checked."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

# End to end through real processes or a served emulator: with -m slow (CI runs both).
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"
CI = EXAMPLES / "ci"
FAILED_LINE = "reconciler drift failed (exit 1): see reconciler_drift_success"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = text_string_to_metric_families(path.read_text(encoding="utf-8"))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in families for s in family.samples}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("HW_", "CLOUD_SDK_", "RECONCILER_", "AWS_", "PG"))}
    bindir = str(Path(sys.executable).parent)  # where `reconciler` is installed
    return {**keep, "PATH": bindir + os.pathsep + keep.get("PATH", ""), **(extra or {})}


def _envs(where: Path, *, broken: bool) -> str:
    """``envs/`` as in examples/multi-env (its files unchanged unless broken);
    the broken endpoint, which the operator allows (so the run gets as far as
    sending), or ""."""
    shutil.copytree(EXAMPLES / "multi-env", where)
    if not broken:
        return ""
    prod = where / "prod.vars.yaml"
    text = prod.read_text(encoding="utf-8")
    assert "endpoint: emulator://demo" in text
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    prod.write_text(text.replace("endpoint: emulator://demo", f"endpoint: {endpoint}"),
                    encoding="utf-8")
    return endpoint


def _crontab_command() -> str:
    lines = [ln for ln in (CI / "crontab").read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#") and "=" not in ln.split()[0]]
    (entry,) = lines
    return entry.split(None, 5)[5]


@pytest.mark.parametrize("broken", [False, True], ids=["healthy", "broken-endpoint"])
def test_the_crontab_line_as_shipped(tmp_path: Path, broken: bool) -> None:
    command = _crontab_command()
    srv, etc, textfile = tmp_path / "srv", tmp_path / "etc" / "env", tmp_path / "textfile"
    textfile.mkdir()
    etc.parent.mkdir()
    endpoint = _envs(srv / "envs", broken=broken)
    # What the operator keeps in /etc/reconciler/env: the secret the files read
    # and its allowance, the cloud credentials (the broken endpoint is not an
    # emulator) and the endpoints the operator allows.
    etc.write_text("export AUTOSCALER_TOKEN=from-the-env-file\n"
                   "export RECONCILER_ALLOW_ENV=AUTOSCALER_TOKEN\n"
                   f"export RECONCILER_ALLOWED_ENDPOINTS={endpoint}\n"
                   "export HW_AUTH_TOKEN=token-from-the-env-file\n"
                   "export HW_PROJECT_ID=0504201b6c80256b2f08c0099f0c8fe4\n", encoding="utf-8")
    moved = (command.replace("/srv/reconciler", str(srv)).replace("/etc/reconciler/env", str(etc))
             .replace("/var/lib/node_exporter/textfile_collector", str(textfile)))
    assert moved.count(str(tmp_path)) == 4, moved  # cd, env file, --state-dir, --output
    result = subprocess.run(["sh", "-c", moved], env=_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr  # the line's last command
    assert "Traceback" not in result.stderr
    assert "from-the-env-file" not in result.stdout + result.stderr
    metrics = _samples(textfile / "reconciler.prom")
    success = metrics[("reconciler_drift_success", (("cluster", "demo-prod"),))]
    assert ("reconciler_drift_last_run_timestamp_seconds", ()) in metrics
    if broken:
        assert success == 0
        assert result.stdout.strip() == FAILED_LINE  # what cron mails
        assert "127.0.0.1" in result.stderr
    else:
        assert success == 1, result.stderr
        assert result.stdout == "" and "error" not in result.stderr, result.stderr
        # The var files beside fleet.yaml were not read as desired state.
        assert not any(k[0] == "reconciler_drift_success" and k[1] != (("cluster", "demo-prod"),)
                       for k in metrics)


@pytest.mark.parametrize("broken", [False, True], ids=["healthy", "broken-endpoint"])
def test_the_cronjob_command_as_shipped(tmp_path: Path, broken: bool) -> None:
    job: Any = yaml.safe_load((CI / "cronjob.yaml").read_text(encoding="utf-8"))
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    desired, textfile = tmp_path / "desired", tmp_path / "textfile"
    textfile.mkdir()
    # The ConfigMap is made --from-file=envs/: every file of the directory.
    endpoint = _envs(desired, broken=broken)
    moved = (script.replace(mounts["desired"], str(desired))
             .replace(mounts["textfile"], str(textfile)))
    assert str(tmp_path) in moved and "/etc/reconciler" not in moved
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RECONCILER_STATE"].startswith("s3://")
    # The remote state is replaced by a local one; the Secret's keys are given.
    env.update(RECONCILER_STATE=str(tmp_path / "state"), HOME=str(tmp_path),
               TMPDIR=str(tmp_path), AUTOSCALER_TOKEN="from-the-secret",
               RECONCILER_ALLOWED_ENDPOINTS=endpoint,
               HW_AUTH_TOKEN="token-from-the-secret",
               HW_PROJECT_ID="0504201b6c80256b2f08c0099f0c8fe4")
    result = subprocess.run(["/bin/sh", "-c", moved], env=_env(env), cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    metrics = _samples(textfile / "reconciler.prom")
    success = metrics[("reconciler_drift_success", (("cluster", "demo-prod"),))]
    if broken:
        assert result.returncode == 1, result.stderr  # the Job fails: kube_job_failed
        assert success == 0
    else:
        assert result.returncode == 0, result.stderr  # drift (exit 2) is a success here
        assert success == 1
    assert not re.search(r"from-the-secret", result.stdout + result.stderr)
