"""Request authentication as the API gateway does it: a token, or an AK/SK signature.

The signature is verified from wire data only (received header values, raw
path and query, body bytes) with the same canonical form as the signer.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from reconciler.cloud import signing
from reconciler.emulator.scenario import Account

__all__ = ["MAX_SKEW_S", "authenticate"]

MAX_SKEW_S = 15 * 60


def authenticate(
    account: Account,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    wall_now: float,
) -> str | None:
    """None if the request is authentic, else why not (for the 401 message).

    ``headers`` has lowercase names. ``wall_now`` is real time (signatures are
    dated by the client's wall clock, whatever the emulator's time scale)."""
    token = headers.get("x-auth-token")
    if token is not None and "authorization" not in headers:
        return None if hmac.compare_digest(token, account.token) else "invalid token"
    value = headers.get("authorization")
    if value is None:
        return "no X-Auth-Token or Authorization header"
    parsed = signing.parse_authorization(value)
    if parsed is None:
        return "malformed Authorization header"
    if parsed.access_key != account.access_key:
        return "unknown access key"
    sdk_date = headers.get("x-sdk-date")
    if sdk_date is None:
        return "X-Sdk-Date is required with AK/SK"
    try:
        signed_at = datetime.strptime(sdk_date, signing.DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return "X-Sdk-Date is malformed"
    if abs(signed_at.timestamp() - wall_now) > MAX_SKEW_S:
        return "X-Sdk-Date is more than 15 minutes away from the server time"
    if "x-sdk-date" not in parsed.signed_headers:
        return "X-Sdk-Date must be signed"
    query = parse_qsl(raw_query, keep_blank_values=True)
    canonical = signing.canonical_request(
        method, raw_path, query, headers, parsed.signed_headers, body
    )
    expected = signing.signature(account.secret_key, sdk_date, canonical)
    if not hmac.compare_digest(expected, parsed.signature):
        return "signature mismatch"
    return None
