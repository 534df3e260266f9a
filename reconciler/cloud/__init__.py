"""The cloud layer: the only code that talks HTTP (to CCE or its emulator).

::

    CloudSession ── client(endpoint, region, project_id) ──▶ CceClient
        │                                                       │ typed results
        │ one httpx.AsyncClient, concurrency cap,               ▼
        │ token-bucket rate limit, RetryPolicy        reconciler.model.live
        ▼
    Sender: sign (AK/SK or token) → send → retry → map errors

Errors (``reconciler.cloud.errors``)::

    CloudError                      any failure talking to CCE
    ├── AuthenticationError         401 / 403, or no usable credentials
    ├── NotFoundError               404
    ├── ConflictError               409
    ├── ThrottledError              429 after the retries ran out
    ├── InvalidRequestError         any other 4xx
    ├── ServerError                 5xx
    ├── RequestTimeoutError         no answer within the timeout
    ├── TransportError              connection refused, reset or dropped
    └── PreflightError              bad endpoint or no credentials, found before sending

Each carries ``status``, ``code`` (CCE error code), ``message``, ``request_id``
and ``ambiguous`` (a POST that may have taken effect: look before retrying).
"""

from __future__ import annotations

from reconciler.cloud.client import CceClient
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.errors import (
    AuthenticationError,
    CloudError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconciler.cloud.preflight import PreflightError, preflight
from reconciler.cloud.retry import RetryPolicy
from reconciler.cloud.session import CloudSession
from reconciler.cloud.wire import PrecheckItem

__all__ = [
    "AuthenticationError",
    "CceClient",
    "CloudError",
    "CloudSession",
    "ConflictError",
    "Credentials",
    "InvalidRequestError",
    "NotFoundError",
    "PrecheckItem",
    "PreflightError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "preflight",
]
