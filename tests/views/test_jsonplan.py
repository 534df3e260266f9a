from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.model.plan import Action, FieldChange, FieldChangeKind, Plan
from reconciler.model.sensitive import SENSITIVE_PREFIX, is_redacted, sensitive_hash
from reconciler.planfile.codec import (
    JSON_FORMAT_VERSION,
    PlanFormatError,
    plan_from_json,
    plan_to_json,
)
from reconciler.views import render_plan
from tests.builders.plans import (
    SALTS,
    SECRET,
    change,
    cluster,
    errors_only_plan,
    everything_plan,
    large_plan,
    no_changes_plan,
    plan,
)

PLANS = {
    "everything": everything_plan,
    "no_changes": no_changes_plan,
    "errors_only": errors_only_plan,
    "large": lambda: large_plan(3, 3, 3),
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_json_plan_json_round_trip_is_identical(name: str) -> None:
    first = plan_to_json(PLANS[name](), salts=SALTS)
    again = plan_to_json(plan_from_json(first), salts={})  # no salt needed: already redacted
    assert again == first
    assert render_plan(again, "json") == render_plan(first, "json")


@pytest.mark.parametrize("name", ["no_changes", "errors_only", "large"])
def test_plans_without_secrets_come_back_equal(name: str) -> None:
    plan = PLANS[name]()
    assert plan_from_json(plan_to_json(plan, salts={})) == plan


def test_loaded_plan_keeps_redacted_markers_and_secret_sources() -> None:
    loaded = plan_from_json(plan_to_json(everything_plan(), salts=SALTS))
    autoscaler = next(ch for ch in loaded.clusters[0].changes if ch.addon == "autoscaler")
    custom = autoscaler.values["custom"]
    assert custom["password"] == sensitive_hash(SECRET, SALTS["prod-eu"])
    assert is_redacted(custom["webhook"]["token"])
    assert is_redacted(custom["apiKey"])
    assert custom["webhook"]["url"] == "https://hooks.example.com/a`b"
    assert custom["maxNodesTotal"] == 50
    assert autoscaler.secret_sources == {
        "custom.password": ("AUTOSCALER_TOKEN",),
        "custom.webhook.token": ("HOOK",),
    }
    password = next(fc for fc in autoscaler.field_changes if fc.path == "custom.password")
    assert password.sensitive and password.before is None and password.after is None
    assert autoscaler.findings[1].blocking and not autoscaler.findings[0].blocking


def test_summary_counts_every_action_and_error() -> None:
    summary = plan_to_json(everything_plan(), salts=SALTS)["summary"]
    assert summary == {
        "install": 1,
        "upgrade": 1,
        "update": 2,
        "delete": 1,
        "adopt": 1,
        "no-op": 2,
        "refresh": 1,
        "clusters": 3,
        "clusters_with_changes": 2,
        "errors": 1,
        "warnings": 1,
        "has_changes": True,
        "has_errors": True,
        "adopting": {"update": 1},
        # The builder's Fatal precheck finding: counted, still a change.
        "blocked": 1,
    }


def test_json_form_is_deterministic_and_sorted() -> None:
    text = render_plan(plan_to_json(everything_plan(), salts=SALTS), "json")
    assert text == render_plan(plan_to_json(everything_plan(), salts=SALTS), "json")
    assert text.index('"clusters"') < text.index('"desired_digest"') < text.index('"summary"')
    assert f'"format_version": {JSON_FORMAT_VERSION}' in text


def _with(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    copied.update(changes)
    return copied


@pytest.mark.parametrize("version", [3, 0, "2", None])
def test_unknown_format_version_is_refused(version: object) -> None:
    data = _with(plan_to_json(no_changes_plan(), salts={}), format_version=version)
    with pytest.raises(
        PlanFormatError, match=r"unsupported plan format_version .*reads format_version 2"
    ):
        plan_from_json(data)


def test_a_version_1_plan_has_no_digest_and_must_be_planned_again() -> None:
    data = _with(plan_to_json(no_changes_plan(), salts={}), format_version=1)
    del data["digest"]
    with pytest.raises(PlanFormatError, match=r"format_version 1 is an older format.*re-run"):
        plan_from_json(data)


def test_missing_format_version_is_refused() -> None:
    data = plan_to_json(no_changes_plan(), salts={})
    del data["format_version"]
    with pytest.raises(PlanFormatError, match="format_version None"):
        plan_from_json(data)


def test_invalid_plan_names_the_offending_path() -> None:
    data = plan_to_json(everything_plan(), salts=SALTS)
    data["clusters"][1]["changes"][0]["action"] = "reinstall"
    del data["clusters"][0]["state_serial"]
    with pytest.raises(PlanFormatError) as caught:
        plan_from_json(data)
    message = str(caught.value)
    assert "clusters[1].changes[0].action: 'reinstall' is not one of" in message
    assert "clusters[0]: 'state_serial' is a required property" in message


def test_non_object_is_refused() -> None:
    with pytest.raises(PlanFormatError, match="JSON object, not list"):
        plan_from_json([])  # type: ignore[arg-type]


def _secret_plan(secret: str, *, sensitive: bool = True) -> Plan:
    hook = change(
        "autoscaler",
        Action.UPDATE,
        FieldChange("custom.hook", FieldChangeKind.CHANGED, "a", secret, sensitive=sensitive),
        values={"custom": {"hook": secret}},
        sensitive_paths=frozenset({"custom.hook"}),
    )
    return plan(cluster("prod-eu", hook, cluster_id="c"))


def test_secret_without_salt_is_an_error_not_a_leak() -> None:
    with pytest.raises(ValueError, match="'prod-eu' has sensitive values but no salt"):
        plan_to_json(_secret_plan(SECRET), salts={})


def test_changed_secret_changes_the_hash_and_salt_matters() -> None:
    first = plan_to_json(_secret_plan("one"), salts=SALTS)["clusters"][0]["changes"][0]
    second = plan_to_json(_secret_plan("two"), salts=SALTS)["clusters"][0]["changes"][0]
    other_salt = plan_to_json(_secret_plan("one"), salts={"prod-eu": "x"})["clusters"][0]
    assert first["values"]["custom"]["hook"].startswith(SENSITIVE_PREFIX)
    assert first["values"] != second["values"]
    assert first["values"] != other_salt["changes"][0]["values"]
    assert first["field_changes"] == [{"path": "custom.hook", "kind": "changed", "sensitive": True}]


def test_declared_path_hides_a_field_change_the_planner_forgot_to_mark() -> None:
    data = plan_to_json(_secret_plan(SECRET, sensitive=False), salts=SALTS)
    assert data["clusters"][0]["changes"][0]["field_changes"][0]["sensitive"] is True


def test_sensitive_paths_reach_into_lists_and_secret_keys_anywhere() -> None:
    install = change(
        "a",
        Action.INSTALL,
        values={
            "custom": {"hosts": ["public", SECRET], "users": [{"name": "u", "auth_token": SECRET}]}
        },
        sensitive_paths=frozenset({"custom.hosts[1]"}),
    )
    hosts = plan(cluster("prod-eu", install, cluster_id="c"), plan_id="i", tool_version="v")
    custom = plan_to_json(hosts, salts=SALTS)["clusters"][0]["changes"][0]["values"]["custom"]
    assert custom["hosts"][0] == "public" and is_redacted(custom["hosts"][1])
    assert custom["users"][0]["name"] == "u" and is_redacted(custom["users"][0]["auth_token"])
    assert SECRET not in repr(custom)
