"""Who made a change: the ``actor`` of every journal record.

``user@host``, and the CI run when one is visible in the environment: a
GitHub Actions run (``GITHUB_REPOSITORY``, ``GITHUB_RUN_ID``), a GitLab CI
job (``CI_PROJECT_PATH``, ``CI_JOB_ID``), or whatever the operator puts in
``RECONCILER_ACTOR`` (a Jenkins build, a change ticket), which wins. These
are set by the runner or the operator, never by the desired-state files.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

__all__ = ["ACTOR_ENV", "actor", "user_name"]

ACTOR_ENV = "RECONCILER_ACTOR"


def user_name() -> str:
    """The login name, or ``uid N`` in a container that has no passwd entry."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def actor(environ: Mapping[str, str] | None = None) -> str:
    """``alice@build-7``, ``runner@fv-az12 (github acme/fleet run 9876)``…"""
    env = os.environ if environ is None else environ
    who = f"{user_name()}@{socket.gethostname()}"
    run = _ci_run(env)
    return f"{who} ({run})" if run else who


def _ci_run(env: Mapping[str, str]) -> str:
    if env.get(ACTOR_ENV, "").strip():
        return env[ACTOR_ENV].strip()
    if env.get("GITHUB_RUN_ID"):
        return f"github {env.get('GITHUB_REPOSITORY', '?')} run {env['GITHUB_RUN_ID']}"
    if env.get("CI_JOB_ID"):
        return f"gitlab {env.get('CI_PROJECT_PATH', '?')} job {env['CI_JOB_ID']}"
    return ""
