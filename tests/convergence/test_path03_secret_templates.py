"""Issue 11, path 3: a saved plan rebuilds every ``secret()`` leaf at apply,
including a secret inside a longer string and a secret as one item of a list
(once refused with "a saved plan can't rebuild it"), on a cluster's first run
and on a cluster with state; the plan file holds none of the secret values."""

from __future__ import annotations

import pytest

from .conv_helpers import LEGACY_ID, Cloud

pytestmark = pytest.mark.convergence

SECRETS = {"HOOK_TOKEN": "tok-3f9a1c-first", "DNS_SECRET": "dns-77b2e0-first"}
ROTATED = {"HOOK_TOKEN": "tok-3f9a1c-second", "DNS_SECRET": "dns-77b2e0-second"}

CLUSTERS = f"""  demo-legacy:
    cluster_id: {LEGACY_ID}
    addons:
      npd:
        allow_unknown_values: [custom.auth_header, custom.servers]
        values:
          custom:
            auth_header: "Bearer {{{{ secret('HOOK_TOKEN') }}}} costs $5"
            servers: ["a.example", "{{{{ secret('DNS_SECRET') }}}}", "c.example"]
"""


def _expected(secrets: dict[str, str]) -> tuple[str, list[str]]:
    return (f"Bearer {secrets['HOOK_TOKEN']} costs $5",
            ["a.example", secrets["DNS_SECRET"], "c.example"])


def _saved_plan_applies(cloud: Cloud, secrets: dict[str, str]) -> None:
    saved = cloud.tmp / "p.json"
    plan = cloud.plan("--out", str(saved))
    assert plan.exit_code == 0, plan.output
    text = saved.read_text(encoding="utf-8")
    for value in (*SECRETS.values(), *ROTATED.values()):
        assert value not in text
        assert value not in plan.output
    assert "${HOOK_TOKEN}" in text and "costs $$5" in text  # the template, not the value
    applied = cloud.apply_saved(saved)
    assert applied.exit_code == 0, applied.output
    assert "rebuild" not in applied.output and "stale" not in applied.output, applied.output
    custom = cloud.instance(LEGACY_ID, "npd").values["custom"]
    header, servers = _expected(secrets)
    assert custom["auth_header"] == header
    assert custom["servers"] == servers
    state = (cloud.state_dir / "demo-legacy.json").read_text(encoding="utf-8")
    for value in secrets.values():
        assert value not in state


@pytest.mark.parametrize("first_run", [True, False], ids=["first-run", "with-state"])
def test_saved_plan_rebuilds_secrets_in_strings_and_lists(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch, first_run: bool) -> None:
    cloud.write(CLUSTERS)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    if not first_run:
        assert cloud.apply().exit_code == 0
        assert (cloud.state_dir / "demo-legacy.json").exists()
        for name, value in ROTATED.items():
            monkeypatch.setenv(name, value)
    _saved_plan_applies(cloud, SECRETS if first_run else ROTATED)


def test_a_secret_changed_after_the_plan_is_refused_by_name(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.write(CLUSTERS)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    saved = cloud.tmp / "p.json"
    assert cloud.plan("--out", str(saved)).exit_code == 0
    monkeypatch.setenv("HOOK_TOKEN", ROTATED["HOOK_TOKEN"])
    applied = cloud.apply_saved(saved)
    assert applied.exit_code == 1, applied.output
    assert "HOOK_TOKEN" in applied.output and "changed since the plan" in applied.output
    assert ROTATED["HOOK_TOKEN"] not in applied.output
