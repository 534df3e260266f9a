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

SENSITIVE_PREFIX = "(sensitive) sha256:"

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


def sensitive_hash(value: Any, salt: str) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256((salt + "\x00" + canonical).encode()).hexdigest()
    return SENSITIVE_PREFIX + digest


def is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SENSITIVE_PREFIX)
