"""Who we are to CCE: an AK/SK pair or an IAM token, plus project and region.

The secret parts are kept out of ``repr``/``str`` (and so out of logs,
tracebacks and error messages); only the mode and the project are shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model.sensitive import (
    ACCESS_KEY_VARIABLES,
    CREDENTIAL_VARIABLES,
    SECRET_KEY_VARIABLES,
    SECURITY_TOKEN_VARIABLE,
    TOKEN_VARIABLE,
)

__all__ = ["CREDENTIAL_VARIABLES", "Credentials"]

_AK_VARS = ACCESS_KEY_VARIABLES
_SK_VARS = SECRET_KEY_VARIABLES


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((environ[n] for n in names if environ.get(n)), "")


@dataclass(frozen=True)
class Credentials:
    """AK/SK (signed requests) or token (``X-Auth-Token``); AK/SK wins when both."""

    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    """Only with temporary AK/SK; sent (and signed) as ``X-Security-Token``."""
    project_id: str = ""
    region: str = ""

    def __post_init__(self) -> None:
        if bool(self.access_key) != bool(self.secret_key):
            raise ValueError("an access key needs its secret key, and the other way round")
        if not self.access_key and not self.token:
            raise ValueError("credentials need an access key and secret key, or a token")

    @property
    def uses_signature(self) -> bool:
        return bool(self.access_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials | None:
        """Read ``HW_ACCESS_KEY``/``HW_SECRET_KEY`` (or ``CLOUD_SDK_AK``/``CLOUD_SDK_SK``),
        ``HW_AUTH_TOKEN``, ``HW_PROJECT_ID`` and ``HW_REGION_NAME``; None when
        neither a complete key pair nor a token is set."""
        env = os.environ if environ is None else environ
        access_key, secret_key = _first(env, _AK_VARS), _first(env, _SK_VARS)
        if not (access_key and secret_key):
            access_key = secret_key = ""
        token = env.get(TOKEN_VARIABLE, "")
        if not access_key and not token:
            return None
        return cls(
            access_key=access_key,
            secret_key=secret_key,
            token=token,
            security_token=env.get(SECURITY_TOKEN_VARIABLE, ""),
            project_id=env.get("HW_PROJECT_ID", ""),
            region=env.get("HW_REGION_NAME", ""),
        )

    def __repr__(self) -> str:
        mode = "aksk" if self.uses_signature else "token"
        return f"Credentials(mode={mode!r}, project_id={self.project_id!r}, region={self.region!r})"

    __str__ = __repr__
