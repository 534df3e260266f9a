"""The operator's rule for endpoints and template variables (``model/trust.py``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from huaweicloudsdkcce.v3.region.cce_region import CceRegion

from reconciler.model.desired import default_endpoint
from reconciler.model.regions import CCE_HOSTS, official_endpoint
from reconciler.model.trust import EndpointRule, EnvRule, origin_of, split_list


def test_the_region_table_is_the_official_sdks() -> None:
    sdk = {region: urlsplit(r.endpoint) for region, r in CceRegion.static_fields.items()}
    assert {region: parts.hostname for region, parts in sdk.items()} == dict(CCE_HOSTS)
    assert all(parts.scheme == "https" for parts in sdk.values())
    assert official_endpoint("eu-west-101") == "https://cce.eu-west-101.myhuaweicloud.eu"
    assert default_endpoint("eu-west-101") == "https://cce.eu-west-101.myhuaweicloud.eu"
    assert official_endpoint("xx-new-1") is None
    assert default_endpoint("xx-new-1") == "https://cce.xx-new-1.myhuaweicloud.com"


@pytest.mark.parametrize(("url", "origin"), [
    ("https://CCE.ap-southeast-1.myhuaweicloud.com.",
     ("https", "cce.ap-southeast-1.myhuaweicloud.com", 443)),
    ("https://h:443/path?q", ("https", "h", 443)),
    ("http://127.0.0.1:8080", ("http", "127.0.0.1", 8080)),
    ("s3://bucket/prefix?endpoint=x", ("s3", "bucket", None)),
    ("postgresql://u@db/x", ("postgres", "db", 5432)),
    ("https://user@h", None),
    ("https://u:p@h", None),
    ("ftp://h", None),
    ("https://h:99999", None),
    ("cce.example.com", None),
])
def test_origins(url: str, origin: tuple[str, str, int | None] | None) -> None:
    assert origin_of(url) == origin


def test_an_endpoint_is_allowed_for_its_own_region_emulators_and_the_operators() -> None:
    rule = EndpointRule.of(["https://proxy.example:8443"], "http://127.0.0.1:9, s3://b")
    assert rule.allowed == ("https://proxy.example:8443", "http://127.0.0.1:9", "s3://b")
    official = "https://cce.ap-southeast-1.myhuaweicloud.com"
    assert rule.endpoint_refusal(official, "ap-southeast-1") is None
    assert rule.endpoint_refusal("emulator://demo", "") is None
    assert rule.endpoint_refusal("https://proxy.example:8443/", "r") is None
    assert rule.endpoint_refusal("http://127.0.0.1:9", "r") is None
    for refused, region in [(official, "cn-north-4"), ("http://127.0.0.1:10", "r"),
                            ("http://localhost:9", "r"), ("https://proxy.example", "r"),
                            ("http://cce.ap-southeast-1.myhuaweicloud.com", "ap-southeast-1"),
                            ("https://x@cce.ap-southeast-1.myhuaweicloud.com", "ap-southeast-1")]:
        found = rule.endpoint_refusal(refused, region)
        assert found is not None, refused
        assert "--allow-endpoint" in found[1] and "RECONCILER_ALLOWED_ENDPOINTS" in found[1]


def test_a_state_url_is_allowed_place_by_place() -> None:
    rule = EndpointRule.of(["s3://team", "https://obs.example", "postgres://db:5432"])
    assert rule.state_refusal(".reconciler/state") is None
    assert rule.state_refusal("s3://team/p?endpoint=https://obs.example&region=r") is None
    assert rule.state_refusal("postgres://u@db/state") is None
    refused = rule.state_refusal("s3://team/p?endpoint=https://evil.example")
    assert refused is not None and "--allow-endpoint https://evil.example" in refused[1]
    assert rule.state_refusal("s3://other/p?endpoint=https://obs.example") is not None
    encoded = rule.state_refusal("s3://team/p?endpoint=http%3A%2F%2Fevil.example%3A81")
    assert encoded is not None and "--allow-endpoint http://evil.example:81" in encoded[1]
    assert rule.state_refusal("postgres://u@db:6543/state") is not None
    assert EndpointRule.of(["not a url"]).invalid() == ["not a url"]
    ipv6 = EndpointRule().endpoint_refusal("http://[::1]:8080/", "r")
    assert ipv6 is not None and "--allow-endpoint http://[::1]:8080 " in ipv6[1]


@pytest.mark.parametrize("name", ["HW_SECRET_KEY", "hw_auth_token", "CLOUD_SDK_AK", "PGPASSWORD",
                                  "PG_CONN_STR", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL",
                                  "APP_DATABASE_URL", "RECONCILER_STATE",
                                  "RECONCILER_LOCK_URL", "RECONCILER_ALLOW_ENV"])
def test_the_tools_own_variables_are_never_readable(name: str) -> None:
    refused = EnvRule.of(["*", name]).refusal(name, f"env('{name}')")
    assert refused is not None and "own credential" in refused[0]


def test_variables_are_read_by_name_or_glob() -> None:
    rule = EnvRule.of(["ADDON_TOKEN"], "TEAM_*  OTHER")
    assert rule.refusal("ADDON_TOKEN", "x") is None
    assert rule.refusal("TEAM_A", "x") is None and rule.refusal("OTHER", "x") is None
    refused = rule.refusal("team_a", "secret('team_a')")  # names are case-sensitive
    assert refused is not None
    assert refused[0] == ("secret('team_a') is refused: `team_a` is not a variable the"
                          " operator allows templates to read")
    assert "--allow-env team_a" in refused[1] and "RECONCILER_ALLOW_ENV=team_a" in refused[1]
    assert split_list(" a, b\nc ,, ") == ("a", "b", "c")
