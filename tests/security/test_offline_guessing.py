"""A leaked saved plan (a CI artifact) must not let anyone test guesses of a secret offline.

The attacker holds the plan file and a dictionary of 10,000 candidates, one of
which is the secret. A cluster with a state has its fingerprints keyed by the
state's salt, which no plan file holds: there is nothing to test a guess
against, whatever salt the attacker tries. A cluster with no state yet has its
salt in the plan (apply checks the secrets it re-reads against it), so its
fingerprints are slow: within the test's budget the attacker gets through a
small part of the dictionary. Controls show the attack itself works: against
the old fast fingerprint, or with the state's salt, it finds the secret.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.model.sensitive import KDF_ITERATIONS, KDF_PREFIX, SENSITIVE_PREFIX
from tests.security.test_secret_replaced import EMULATOR_STORE, write

DICTIONARY = [f"pw-{n:05d}" for n in range(10_000)]
SECRET = DICTIONARY[9_000]
ROTATED = DICTIONARY[9_001]
BUDGET_S = 3.0
PATH = "custom.upstream_nameservers[0]"


def run(*args: str, allowed: tuple[int, ...] = (0, 2)) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code in allowed, result.output
    for secret in (SECRET, ROTATED):
        assert secret not in result.output, f"`reconciler {' '.join(args)}` prints a secret"
    return result


def fingerprints(plan: Any) -> Iterator[str]:
    if isinstance(plan, dict):
        for value in plan.values():
            yield from fingerprints(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from fingerprints(value)
    elif isinstance(plan, str) and plan.startswith((SENSITIVE_PREFIX, KDF_PREFIX)):
        yield plan


def strings(plan: Any) -> set[str]:
    if isinstance(plan, dict):
        return set().union(*(strings(v) for v in plan.values()), {str(k) for k in plan})
    if isinstance(plan, list):
        return set().union(*(strings(v) for v in plan))
    return {plan} if isinstance(plan, str) else set()


def guess(target: str, salts: set[str], budget_s: float) -> tuple[str | None, int]:
    """The attacker: every candidate under every salt, until the budget runs
    out. Returns what was found and how many candidates were tried."""
    deadline = time.monotonic() + budget_s
    for tried, candidate in enumerate(DICTIONARY):
        if time.monotonic() > deadline:
            return None, tried
        canonical = json.dumps(candidate).encode()
        for salt in salts:
            if target.startswith(KDF_PREFIX):
                digest = hashlib.pbkdf2_hmac("sha256", canonical, salt.encode(),
                                             KDF_ITERATIONS).hex()
                found = KDF_PREFIX + digest == target
            else:
                digest = hashlib.sha256(salt.encode() + b"\0" + canonical).hexdigest()
                found = SENSITIVE_PREFIX + digest == target
            if found:
                return candidate, tried + 1
    return None, len(DICTIONARY)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def assert_no_file_leaks(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and path != root / EMULATOR_STORE:
            text = path.read_bytes()
            assert SECRET.encode() not in text and ROTATED.encode() not in text, path


@pytest.mark.slow
def test_a_leaked_plan_gives_no_cheap_way_to_test_guesses(
        work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write(tmp_path / "input", "\"{{ secret('DNS_TOKEN') }}\"")
    monkeypatch.setenv("DNS_TOKEN", SECRET)
    monkeypatch.setenv("RECONCILER_ALLOW_ENV", "DNS_TOKEN")  # the operator's allowance

    # 1. No state yet: the salt travels in the plan, the fingerprint is slow.
    run("plan", source, "--out", "first.plan.json")
    first = json.loads(Path("first.plan.json").read_text(encoding="utf-8"))
    [published] = [f for f in fingerprints(first) if f.startswith(KDF_PREFIX)]
    salt = first["clusters"][0]["salt"]
    found, tried = guess(published, {salt}, BUDGET_S)
    assert found is None and tried < 1_000, (found, tried)
    # Control: the same attacker against the old fast fingerprint of that salt finds it.
    old = SENSITIVE_PREFIX + hashlib.sha256(
        salt.encode() + b"\0" + json.dumps(SECRET).encode()).hexdigest()
    assert guess(old, {salt}, BUDGET_S) == (SECRET, 9_001)

    # 2. Applied: the state has its own salt, and no plan file holds it.
    assert run("apply", "first.plan.json", allowed=(0,)).exit_code == 0
    monkeypatch.setenv("DNS_TOKEN", ROTATED)
    rotated = run("plan", source, "--out", "second.plan.json", "--detailed-exitcode",
                  "--no-color")
    assert rotated.exit_code == 2 and f"~ {PATH}: (sensitive)" in rotated.stdout
    second = json.loads(Path("second.plan.json").read_text(encoding="utf-8"))
    assert second["clusters"][0]["salt"] == ""
    [keyed] = [f for f in fingerprints(second) if f.startswith(SENSITIVE_PREFIX)]
    salts = strings(second) | strings(first) | {""}
    assert guess(keyed, salts, 300.0) == (None, len(DICTIONARY))
    state = json.loads(run("state", "show", "demo-staging", "--json").stdout)
    assert state["salt"] not in Path("second.plan.json").read_text(encoding="utf-8")
    # Control: with the operator's state salt, the rotated secret is found.
    assert guess(keyed, {state["salt"]}, 60.0) == (ROTATED, 9_002)

    # The secret's rotation is still caught at apply: the saved plan is refused
    # when the environment holds another value than the one planned.
    monkeypatch.setenv("DNS_TOKEN", SECRET)
    stale = run("apply", "second.plan.json", allowed=(1,))
    assert "DNS_TOKEN" in stale.output and "changed since the plan" in stale.output
    assert_no_file_leaks(work)
