"""The ``SDK-HMAC-SHA256`` request signature of Huawei Cloud APIs.

Pure functions (no I/O, no httpx) so that the client can sign and the emulator
can verify from wire data with the same code. The canonical form follows
``huaweicloudsdkcore.signer.signer.Signer`` exactly; tests compare headers with
it byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "EMPTY_BODY_SHA256",
    "ParsedAuthorization",
    "authorization_header",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "parse_authorization",
    "signature",
    "signed_header_names",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
_CONTENT_SHA_HEADER = "x-sdk-content-sha256"

QueryValue = str | int | float | bool | Sequence[str]


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Unquote, re-quote each segment, and end with ``/``."""
    url_path = "/".join(_encode(seg) for seg in unquote(path).split("/"))
    return url_path if url_path.endswith("/") else url_path + "/"


def canonical_query(params: Iterable[tuple[str, QueryValue]]) -> str:
    """Pairs sorted, both sides quoted with ``safe='~'``; list values expanded
    sorted; booleans as ``true``/``false``. Also the on-the-wire query string."""
    parts: list[str] = []
    for key, value in sorted(params, key=lambda kv: (kv[0], str(kv[1]))):
        k = _encode(key)
        if isinstance(value, bool):
            parts.append(f"{k}={_encode(str(value).lower())}")
        elif isinstance(value, list | tuple):
            parts.extend(f"{k}={_encode(str(v))}" for v in sorted(value))
        else:
            parts.append(f"{k}={_encode(str(value))}")
    return "&".join(parts)


def signed_header_names(headers: Iterable[str]) -> list[str]:
    """Every header whose name has no ``_``, lowercased and sorted."""
    return sorted({name.lower() for name in headers if "_" not in name})


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, QueryValue]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_headers)
    if not body:
        payload_hash = EMPTY_BODY_SHA256
    else:
        payload_hash = lowered.get(_CONTENT_SHA_HEADER) or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, sdk_date, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_header(
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, QueryValue]],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The ``Authorization`` value for a request whose ``headers`` already hold
    every header to sign (``X-Sdk-Date``, ``Host`` with port, ``X-Project-Id``,
    ``Content-Type``, ``User-Agent`` …)."""
    sdk_date = next((v for k, v in headers.items() if k.lower() == "x-sdk-date"), None)
    if sdk_date is None:
        raise ValueError("X-Sdk-Date must be set before signing")
    names = signed_header_names(headers)
    canonical = canonical_request(method, path, query, headers, names, body)
    sig = signature(secret_key, sdk_date, canonical)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Parse ``SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…``; None if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    if not {"Access", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return ParsedAuthorization(
        access_key=fields["Access"],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )
