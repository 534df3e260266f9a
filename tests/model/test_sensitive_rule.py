"""The one sensitivity rule (model.sensitive.leaf_is_sensitive), table-driven
over the demo scenario's real template values (issue 11, path 4)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from reconciler.emulator.scenario import demo_scenario_path
from reconciler.engine import secrets
from reconciler.model.sensitive import NO_RULES, SensitiveRules, sensitive_leaves


def _template_inputs() -> list[tuple[str, dict[str, Any]]]:
    scenario = yaml.safe_load(demo_scenario_path().read_text(encoding="utf-8"))
    return [(f"{t['name']}@{v['version']}", v["input"])
            for t in scenario["templates"] for v in t["versions"]]


TEMPLATES = _template_inputs()


@pytest.mark.parametrize(("name", "values"), TEMPLATES, ids=[n for n, _ in TEMPLATES])
def test_no_template_default_is_sensitive_by_name(name: str, values: dict[str, Any]) -> None:
    """Every demo default (tolerations with `key:`, `disable_auto_mount_secret:
    false`, `swr_user`, endpoints, flavors) is shown in clear."""
    assert sensitive_leaves(values, NO_RULES) == frozenset(), name


def _coredns() -> dict[str, Any]:
    return dict(TEMPLATES[0][1]["parameters"])


def _everest() -> dict[str, Any]:
    return next(v for n, v in TEMPLATES if n.startswith("everest@"))["parameters"]


def _with(base: dict[str, Any], **custom: Any) -> dict[str, Any]:
    return {**base, "custom": {**base["custom"], **custom}}


RULES = secrets.rules
CASES: list[tuple[str, dict[str, Any], SensitiveRules, set[str]]] = [
    ("coredns defaults", _coredns(), NO_RULES, set()),
    ("a toleration's key is a label", _with(_coredns(), tolerations=[
        {"key": "dedicated-dns", "operator": "Exists", "effect": "NoSchedule"}]), NO_RULES, set()),
    ("everest boolean named *_secret", _with(_everest(), disable_auto_mount_secret=True),
     NO_RULES, set()),
    ("a plain token string", _with(_coredns(), token="plain"), NO_RULES, {"custom.token"}),
    ("an empty token string", _with(_coredns(), token=""), NO_RULES, set()),
    ("a numeric password", _with(_coredns(), password=1234), NO_RULES, set()),
    ("compound credential names", _with(_coredns(), db_password="p", adminPassword="q",
                                        api_token="t", secretKey="s", sk="k"),
     NO_RULES, {"custom.db_password", "custom.adminPassword", "custom.api_token",
                "custom.secretKey", "custom.sk"}),
    ("names that merely contain a word", _with(_coredns(), secret_name="tls-cert",
                                               key_file="/etc/k", tokenizer="bpe"),
     NO_RULES, set()),
    ("strings under a credentials map", _with(_coredns(), credentials={"user": "u", "n": 2}),
     NO_RULES, {"custom.credentials.user"}),
    ("declared sensitive, any type", _with(_coredns(), feature_gates="x"),
     RULES(declared=["custom.feature_gates", "custom.multiAZEnabled"]),
     {"custom.feature_gates", "custom.multiAZEnabled"}),
    ("not_sensitive overrides the name", _with(_coredns(), token="shown"),
     RULES(not_sensitive=["custom.token"]), set()),
    ("a secret() stays sensitive under not_sensitive", _with(_coredns(), token="s"),
     RULES(secret_paths=["custom.token"], not_sensitive=["custom.token"]), {"custom.token"}),
    ("a secret() list item alone", _with(_coredns(), upstream_nameservers=["1.1.1.1", "s"]),
     RULES(secret_paths=["custom.upstream_nameservers.1"]),
     {"custom.upstream_nameservers[1]"}),
]


@pytest.mark.parametrize(("values", "rules", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_which_leaves_are_sensitive(values: dict[str, Any], rules: SensitiveRules,
                                    expected: set[str]) -> None:
    assert sensitive_leaves(values, rules) == frozenset(expected)


def test_a_secret_word_among_words_already_seen_plain_is_found() -> None:
    """The walk skips maps whose keys it has seen plain before (model/sensitive.py):
    a new credential key in such a map, or deeper under one, is still found."""
    assert sensitive_leaves(_coredns(), NO_RULES) == frozenset()  # its keys now known plain
    beside = _with(_coredns(), api_token="t")
    assert sensitive_leaves(beside, NO_RULES) == {"custom.api_token"}
    deeper = _with(_coredns(), stub_domains={"consul.local": {"password": "p"}})
    assert sensitive_leaves(deeper, NO_RULES) == {"custom.stub_domains.consul.local.password"}
    in_list = _with(_coredns(), upstream_nameservers=[{"token": "x"}])
    assert sensitive_leaves(in_list, NO_RULES) == {"custom.upstream_nameservers[0].token"}
    numbered = {"custom": {1: {"secretKey": "s"}}}
    assert sensitive_leaves(numbered, NO_RULES) == {"custom.1.secretKey"}


def test_a_published_salt_gives_a_slow_fingerprint_and_a_state_salt_a_fast_one() -> None:
    from reconciler.model.sensitive import (
        KDF_PREFIX,
        SENSITIVE_PREFIX,
        is_redacted,
        published_salt,
        sensitive_hash,
    )

    public = published_salt("seed")
    assert public == "kdf:seed" and published_salt() != published_salt()
    slow = sensitive_hash("s3cret", public)
    fast = sensitive_hash("s3cret", "state-salt")  # plans from before keep this form
    assert slow.startswith(KDF_PREFIX) and fast.startswith(SENSITIVE_PREFIX)
    assert is_redacted(slow) and is_redacted(fast)
    assert sensitive_hash("s3cret", public) == slow != sensitive_hash("s3cret2", public)
    assert sensitive_hash("s3cret", published_salt("other")) != slow
