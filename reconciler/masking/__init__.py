"""The last net for secrets: every byte that leaves the process goes through one redactor.

Structural redaction (``model.sensitive``, ``views.redact``, ``statemgr.redaction``)
hashes the leaves we *know* are secret. This package catches the rest: the
literal values of the credentials in use and of every ``secret()`` read in this
run, wherever they turn up (inside longer strings, JSON-escaped), on every
channel: stdout/stderr (``streams``), logging (``logs``) and files
(``files.write_atomic``). Values seen only in a body the cloud sends or
receives join it just before the body is logged: the redactor also keeps the
value paths known to be sensitive per add-on (``register_paths``), which
``cloud.bodymask`` reads. It imports nothing from the rest of the package, so
every layer may use it.
"""

from __future__ import annotations

from reconciler.masking.redactor import (
    CREDENTIAL_VARIABLES,
    MASK,
    MIN_LENGTH,
    Redactor,
    current_redactor,
    mask,
    register,
    register_credentials,
    register_paths,
    reset_redactor,
    sensitive_paths,
)

__all__ = [
    "CREDENTIAL_VARIABLES",
    "MASK",
    "MIN_LENGTH",
    "Redactor",
    "current_redactor",
    "mask",
    "register",
    "register_credentials",
    "register_paths",
    "reset_redactor",
    "sensitive_paths",
]
