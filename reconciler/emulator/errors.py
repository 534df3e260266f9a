"""Error bodies as the real CCE add-on manager and API gateway send them.

CCE errors (REFERENCE §3) are k8s ``Status`` objects carrying ``errorCode`` /
``errorMessage`` (read by the official SDK) and an inner ``error.code``; the
gateway's own errors (auth, throttling) use ``error_code`` / ``error_msg``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "apig_body", "cce_body"]

_ERROR_MESSAGES = {
    "400001": "Invalid request.",
    "400015": "Version not supported.",
    "401001": "Authorization failed.",
    "403001": "Forbidden.",
    "404001": "Resource not found.",
    "409001": "The resource already exists.",
    "429002": "Resource locked by other requests.",
    "500001": "Internal error.",
}
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            409: "AlreadyExists", 429: "TooManyRequests", 500: "InternalError"}

# Inner codes of the add-on manager (HWDOC ErrorCode.html; 4000002 seen in TF issue #3399).
INNER_BAD_VALUES = "SVCSTG.CCE-ADDONMGR.4000002"
INNER_BAD_BODY = "SVCSTG.CCE-ADDONMGR.4000003"
INNER_CLUSTER_UNSUPPORTED = "SVCSTG.CCE-ADDONMGR.4030302"
INNER_NOT_FOUND = "SVCSTG.CCE-ADDONMGR.4040204"
INNER_INTERNAL = "SVCSTG.CCE-ADDONMGR.5000001"


class ApiError(Exception):
    """A CCE error response: HTTP status, ``CCE.xxxxxxxx`` code, detail message."""

    def __init__(self, status: int, code: str, message: str, inner_code: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.inner_code = inner_code or _default_inner(status)


def _default_inner(status: int) -> str:
    return {400: INNER_BAD_VALUES, 404: INNER_NOT_FOUND, 500: INNER_INTERNAL}.get(
        status, f"SVCSTG.CCE-ADDONMGR.{status}0000"
    )


def cce_body(err: ApiError) -> dict[str, Any]:
    if err.code == "CCE.03409001":
        error_message = "Addon instance has installed."
    else:
        error_message = _ERROR_MESSAGES.get(err.code[-6:], "Invalid request.")
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "code": err.status,
        "errorCode": err.code,
        "errorMessage": error_message,
        "error": {"message": err.message, "code": err.inner_code},
        "message": err.message,
        "reason": _REASONS.get(err.status, "Unknown"),
    }


def apig_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error_msg": message, "error_code": code, "request_id": request_id}
