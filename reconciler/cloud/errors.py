"""Errors raised by the cloud layer.

::

    CloudError                      any failure talking to CCE
    ├── AuthenticationError         401 / 403, or no usable credentials
    ├── NotFoundError               404
    ├── ConflictError               409 (e.g. "Addon instance has installed")
    ├── ThrottledError              429 after the retries ran out
    ├── InvalidRequestError         any other 4xx
    ├── ServerError                 5xx
    ├── RequestTimeoutError         no answer within the timeout
    ├── TransportError              connection refused, reset or dropped
    └── PlaceholderError            a body still holds a secret() placeholder: not sent

Every error carries the HTTP status (``None`` when there was no response), the
CCE error code, the server's message and the ``X-Request-Id``; it is raised
``from`` the underlying httpx error. ``ambiguous`` is true when a non-idempotent
call (a POST) failed in a way that does not say whether the server acted on it:
the caller must look (list instances or tasks) before trying again.

Messages never contain credentials: they are built from the method, the path
and the server's reply only.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CloudError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "PlaceholderError",
    "RequestTimeoutError",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "error_for_status",
]


class CloudError(Exception):
    """Base of every cloud-layer error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        ambiguous: bool = False,
        hint: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        self.ambiguous = ambiguous
        self.hint = hint
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.method} {self.path}: {self.message}" if self.method else self.message
        details = [f"HTTP {self.status}"] if self.status is not None else []
        details += [self.code] if self.code else []
        details += [f"request id {self.request_id}"] if self.request_id else []
        if details:
            text += f" ({', '.join(details)})"
        if self.ambiguous:
            text += "; the request may or may not have taken effect"
        if self.hint:
            text += f"; {self.hint}"
        return text


class AuthenticationError(CloudError):
    """The server refused our identity (401/403) or we have none to offer."""


class NotFoundError(CloudError):
    """The resource does not exist (404); for an add-on, also "deleted"."""


class ConflictError(CloudError):
    """The request conflicts with the resource's state (409)."""


class ThrottledError(CloudError):
    """Still throttled (429) after every retry allowed."""


class InvalidRequestError(CloudError):
    """The server rejected the request as malformed or unsupported (other 4xx)."""


class ServerError(CloudError):
    """The server failed (5xx)."""


class RequestTimeoutError(CloudError):
    """No complete answer within the per-request timeout."""


class TransportError(CloudError):
    """The connection failed: refused, reset, or dropped mid-request."""


class PlaceholderError(CloudError):
    """A request body still holds a ``secret()`` placeholder token; refused before sending.

    The token stands for a secret while files are rendered; reaching the wire it
    would replace the real value in the cloud (a bug upstream, never a
    server's answer). Nothing was sent, so it is never ambiguous."""


_BY_STATUS: dict[int, type[CloudError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    429: ThrottledError,
}


def error_for_status(status: int) -> type[CloudError]:
    """The error class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, InvalidRequestError)
