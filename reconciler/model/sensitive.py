"""How a sensitive leaf is written wherever values leave memory.

A leaf that came from ``secret()`` (or whose key looks secret) is replaced by
the string ``"(sensitive) sha256:<hex>"``, where ``<hex>`` is a salted SHA-256
of the canonical JSON of the real value. The salt belongs to the cluster's
state lineage, so a changed secret still shows as a change while the value
itself can't be read back or cheaply guessed across clusters.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = [
    "ACCESS_KEY_VARIABLES",
    "CREDENTIAL_VARIABLES",
    "SECRET_KEY_VARIABLES",
    "SECURITY_TOKEN_VARIABLE",
    "SENSITIVE_PREFIX",
    "TOKEN_VARIABLE",
    "is_redacted",
    "looks_secret",
    "sensitive_hash",
    "variable_looks_secret",
]

SENSITIVE_PREFIX = "(sensitive) sha256:"

# The reconciler's own credential variables. Defined here, in the pure model
# layer, so both the cloud layer (which reads them) and config (whose `env()`
# refuses them) use one list without config importing cloud.
ACCESS_KEY_VARIABLES = ("HW_ACCESS_KEY", "CLOUD_SDK_AK")
SECRET_KEY_VARIABLES = ("HW_SECRET_KEY", "CLOUD_SDK_SK")
TOKEN_VARIABLE = "HW_AUTH_TOKEN"
SECURITY_TOKEN_VARIABLE = "HW_SECURITY_TOKEN"
CREDENTIAL_VARIABLES = (
    *ACCESS_KEY_VARIABLES,
    *SECRET_KEY_VARIABLES,
    TOKEN_VARIABLE,
    SECURITY_TOKEN_VARIABLE,
)

# Environment variable names that hold secrets by convention; `env()` refuses them
# (their value would land in plans in clear) and points to `secret()` instead.
_SECRET_VARIABLE = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|_SK$|_KEY$", re.IGNORECASE)

# Key names that are redacted in output even when not declared via secret().
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(password|passwd|pwd|token|secret|sk|key|private_?key|access_?key"
    r"|secret_?key|credentials?|auth)([_\-.]|$)",
    re.IGNORECASE,
)


def looks_secret(key: str) -> bool:
    """True for key names such as ``password``, ``api_token``, ``sk``, ``secretKey``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)
    return bool(_SECRET_KEY.search(snake))


def variable_looks_secret(name: str) -> bool:
    """True for the reconciler's credential variables and names such as ``DB_PASSWORD``,
    ``API_TOKEN``, ``OBS_SK`` or ``SIGNING_KEY``."""
    return name.upper() in CREDENTIAL_VARIABLES or bool(_SECRET_VARIABLE.search(name))


def sensitive_hash(value: Any, salt: str) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256((salt + "\x00" + canonical).encode()).hexdigest()
    return SENSITIVE_PREFIX + digest


def is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SENSITIVE_PREFIX)
