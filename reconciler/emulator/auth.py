"""Request authentication as the API gateway does it: a token, or an AK/SK signature.

The signature is verified from wire data only (received header values, raw
path and query, body bytes) with the same canonical form as the signer.

The body is covered by the signature through its SHA-256. A client may put
that hash, or ``UNSIGNED-PAYLOAD``, in ``X-Sdk-Content-Sha256`` (the official
SDK sends ``UNSIGNED-PAYLOAD`` for non-JSON bodies, as a signed header). The
gateway only takes the header's word when the header is itself signed, and a
signed hash must be the body's: otherwise a captured request could be replayed
with any other body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from reconciler.emulator.scenario import Account
from reconciler.kit import signing

__all__ = ["CONTENT_SHA256_HEADER", "MAX_SKEW_S", "UNSIGNED_PAYLOAD", "authenticate"]

MAX_SKEW_S = 15 * 60
CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


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
    payload_headers, why = _payload_headers(headers, parsed.signed_headers, body)
    if why is not None:
        return why
    query = parse_qsl(raw_query, keep_blank_values=True)
    canonical = signing.canonical_request(
        method, raw_path, query, payload_headers, parsed.signed_headers, body
    )
    expected = signing.signature(account.secret_key, sdk_date, canonical)
    if not hmac.compare_digest(expected, parsed.signature):
        return "signature mismatch"
    return None


def _payload_headers(
    headers: Mapping[str, str], signed_headers: tuple[str, ...], body: bytes
) -> tuple[Mapping[str, str], str | None]:
    """The headers to build the canonical request from, or why the body is refused.

    An unsigned ``X-Sdk-Content-Sha256`` is dropped so that the canonical
    request hashes the body received, not whatever hash the sender claims."""
    claimed = headers.get(CONTENT_SHA256_HEADER)
    if claimed is None:
        return headers, None
    if CONTENT_SHA256_HEADER not in signed_headers:
        return {k: v for k, v in headers.items() if k != CONTENT_SHA256_HEADER}, None
    claimed = claimed.strip()
    # An empty body is hashed as empty whatever the header says (as the signer does).
    if not body or not claimed or claimed == UNSIGNED_PAYLOAD:
        return headers, None
    if not hmac.compare_digest(claimed.lower(), hashlib.sha256(body).hexdigest()):
        return headers, "X-Sdk-Content-Sha256 is not the SHA-256 of the body"
    return headers, None
