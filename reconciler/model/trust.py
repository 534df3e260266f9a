"""What only the operator decides: where credentials may go, which variables templates read.

Desired-state files, var files and saved plans arrive through pull requests.
They may name an endpoint, a state URL or an environment variable, but they
cannot make the reconciler send its credentials to a host, nor read a variable
into a template, unless the operator allows it outside the files (flags and
environment of the command run). This module is the one rule for both; the
loader (files), the saved-plan check and the state backend choice all ask it.

Endpoints: credentials go to the official CCE endpoint of the cluster's region
(``model/regions.py``), to ``emulator://NAME`` (served in-process, nothing
leaves the machine) and to what the operator names with ``--endpoint``,
``--allow-endpoint URL`` or ``RECONCILER_ALLOWED_ENDPOINTS``. Loopback is
not special: a port on this machine may be anybody's. An endpoint is compared
by origin (scheme, host, port), so ``https://h`` and ``https://h:443/`` are one.

Variables: ``env()`` and ``secret()`` read only names matching a glob of
``--allow-env`` / ``RECONCILER_ALLOW_ENV``, and never the reconciler's own
credential and state-backend variables, whatever the list says.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from reconciler.model.regions import official_endpoint

__all__ = [
    "ALLOWED_ENDPOINTS_ENV",
    "ALLOW_ENV_ENV",
    "EMULATOR_SCHEME",
    "NEVER_READABLE",
    "NO_VARIABLES",
    "ONLY_OFFICIAL",
    "EndpointRule",
    "EnvRule",
    "origin_of",
    "split_list",
]

ALLOWED_ENDPOINTS_ENV = "RECONCILER_ALLOWED_ENDPOINTS"
ALLOW_ENV_ENV = "RECONCILER_ALLOW_ENV"
EMULATOR_SCHEME = "emulator://"

NEVER_READABLE = (
    "HW_*", "CLOUD_SDK_*", "RECONCILER_*", "AWS_*", "PG*", "DATABASE_URL", "*_DATABASE_URL",
)
"""Variables no template reads, whatever ``--allow-env`` says: the reconciler's
own cloud credentials, its configuration (state URL, lock URL, allow-lists)
and the state backends' credentials (``PGPASSWORD``, ``PG_CONN_STR``, AWS keys)."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432}
_SEPARATOR = re.compile(r"[\s,]+")

Origin = tuple[str, str, int | None]
"""(scheme, host, port): where a request goes. ``s3`` origins are (``s3``, bucket, None)."""


def split_list(text: str | None) -> tuple[str, ...]:
    """An environment variable's list: items separated by commas or whitespace."""
    return tuple(item for item in _SEPARATOR.split(text or "") if item)


def _gathered(given: Iterable[Iterable[str] | str | None]) -> tuple[str, ...]:
    found: list[str] = []
    for item in given:
        if item is None:
            continue
        found.extend(split_list(item) if isinstance(item, str) else item)
    return tuple(dict.fromkeys(found))


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s), s3 or postgres URL; None if it has none or
    carries credentials (``user:password@``: never a place to send ours)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.password is not None:
        return None
    if scheme == "s3":
        return ("s3", host, None)
    if scheme not in _DEFAULT_PORTS:
        return None
    if parts.username is not None and scheme in ("http", "https"):
        return None
    scheme = "postgres" if scheme == "postgresql" else scheme
    return (scheme, host, port or _DEFAULT_PORTS[scheme])


def _shown(origin: Origin) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class EndpointRule:
    """The endpoints the operator allows, beside the official ones and emulators."""

    allowed: tuple[str, ...] = ()
    """URLs as the operator gave them (``--allow-endpoint``, the environment,
    ``--endpoint``); compared by origin."""
    state_given: bool = False
    """The operator names the state (``--state``/``RECONCILER_STATE``): a
    file's ``state:`` block is not used, so not checked either."""

    @classmethod
    def of(cls, *given: Iterable[str] | str | None, state_given: bool = False) -> EndpointRule:
        """From flags (iterables) and environment values (comma/space lists)."""
        return cls(_gathered(given), state_given=state_given)

    def invalid(self) -> list[str]:
        """The allowed entries that name no origin (so could never match)."""
        return [u for u in self.allowed
                if not u.startswith(EMULATOR_SCHEME) and origin_of(u) is None]

    def _origins(self) -> set[Origin]:
        return {o for o in map(origin_of, self.allowed) if o is not None}

    def endpoint_refusal(self, endpoint: str, region: str) -> tuple[str, str] | None:
        """None when credentials may go to CCE ``endpoint`` for a cluster in
        ``region``; otherwise (why not, how to allow it)."""
        # A fleet has a handful of (endpoint, region) pairs for thousands of clusters.
        return _endpoint_refusal(self.allowed, endpoint, region)

    def state_refusal(self, url: str) -> tuple[str, str] | None:
        """None when a state URL written in a file may be used: each place it
        sends to (the bucket, the s3 ``endpoint=``, the PostgreSQL server and
        lock server) is allowed. A local directory has no origin: always None."""
        if "://" not in url or url in self.allowed:
            return None
        base, _, query = url.partition("?")
        # Decoded as the backend decodes them (``statemgr/backendurl.py``).
        places = [base, *(value for key, value in parse_qsl(query, keep_blank_values=True)
                          if key in ("endpoint", "lock_url") and value)]
        allowed = self._origins()
        for place in places:
            origin = origin_of(place)
            if origin is None or origin not in allowed:
                return (f"the state URL names {place!r}, which the operator has not allowed:"
                        " state is written (signed with this run's keys) only where the"
                        " operator says",
                        _how_to_allow(place, origin, with_override=False)
                        + ", or give the state with --state (or RECONCILER_STATE)")
        return None


@functools.lru_cache(maxsize=1024)
def _endpoint_refusal(allowed: tuple[str, ...], endpoint: str,
                      region: str) -> tuple[str, str] | None:
    if endpoint.startswith(EMULATOR_SCHEME) or endpoint in allowed:
        return None
    origin = origin_of(endpoint)
    official = official_endpoint(region)
    if origin is not None and origin in {o for o in map(origin_of, allowed) if o is not None}:
        return None
    if origin is not None and official is not None and origin == origin_of(official):
        return None
    if official:
        why = (f"credentials go only to the official CCE endpoint of region {region!r}"
               f" ({official}), emulator://NAME, or an endpoint the operator allows")
    else:
        why = (f"region {region!r} is not in the official CCE region table, so credentials"
               " go only to emulator://NAME or an endpoint the operator allows")
    return (f"endpoint {endpoint!r} is not allowed: {why}",
            _how_to_allow(endpoint, origin, with_override=True))


def _how_to_allow(url: str, origin: Origin | None, *, with_override: bool) -> str:
    shown = _shown(origin) if origin is not None else url
    text = (f"if it is yours, allow it outside the files: --allow-endpoint {shown}"
            f" (repeatable) or {ALLOWED_ENDPOINTS_ENV}={shown}")
    return text + (f", or --endpoint {shown}" if with_override else "")


@dataclass(frozen=True)
class EnvRule:
    """The environment variables templates may read (``env()``, ``secret()``)."""

    patterns: tuple[str, ...] = ()
    """Names or globs (``TEAM_*``) from ``--allow-env`` and the environment."""

    @classmethod
    def of(cls, *given: Iterable[str] | str | None) -> EnvRule:
        """From flags (iterables) and environment values (comma/space lists)."""
        return cls(_gathered(given))

    def refusal(self, name: str, call: str) -> tuple[str, str] | None:
        """None when a template may read ``name``; else (message, hint), where
        ``call`` is how the template asked (``env('X')``)."""
        upper = name.upper()
        if any(fnmatch.fnmatchcase(upper, p) for p in NEVER_READABLE):
            return (f"{call} is refused: `{name}` is one of the reconciler's own credential,"
                    " configuration or state-backend variables, which no template reads",
                    "pass the add-on its own value in a variable of its own, e.g."
                    " secret('ADDON_TOKEN') with --allow-env ADDON_TOKEN")
        if any(fnmatch.fnmatchcase(name, p) for p in self.patterns):
            return None
        return (f"{call} is refused: `{name}` is not a variable the operator allows"
                " templates to read",
                f"allow it outside the files: --allow-env {name} (repeatable, globs such as"
                f" 'TEAM_*') or {ALLOW_ENV_ENV}={name}")


ONLY_OFFICIAL = EndpointRule()
"""Nothing allowed beyond the official endpoints and emulators (the default)."""
NO_VARIABLES = EnvRule()
"""No variable readable by templates (the default)."""
