"""The headers that authenticate one request: signed AK/SK or an IAM token.

The header set mirrors what ``huaweicloudsdkcore`` sends (REFERENCE §0, §4):
``Content-Type: application/json`` on every call, ``User-Agent``, ``Host``
with the port when it is not the default one, ``X-Project-Id`` and
``X-Sdk-Date``, all signed. The caller sends the query string exactly as
:func:`~reconciler.kit.signing.canonical_query` wrote it, so what is signed is
what goes on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler import __version__
from reconciler.cloud.credentials import Credentials
from reconciler.kit.signing import DATE_FORMAT, QueryValue, authorization_header

__all__ = ["USER_AGENT", "request_headers"]

USER_AGENT = f"reconciler/{__version__}"


def request_headers(
    credentials: Credentials,
    *,
    project_id: str,
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, QueryValue]],
    body: bytes,
    now: datetime | None = None,
) -> dict[str, str]:
    """Every header of the request, ``Authorization`` or ``X-Auth-Token`` included."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Host": host}
    if project_id:
        headers["X-Project-Id"] = project_id
    if not credentials.uses_signature:
        headers["X-Auth-Token"] = credentials.token
        return headers
    if credentials.security_token:
        headers["X-Security-Token"] = credentials.security_token
    headers["X-Sdk-Date"] = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    headers["Authorization"] = authorization_header(
        credentials.access_key, credentials.secret_key, method, path, query, headers, body
    )
    return headers
