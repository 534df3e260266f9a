"""How a sensitive leaf is written wherever values leave memory.

Which leaves are sensitive is decided here, once (``leaf_is_sensitive``).
A sensitive leaf is replaced by a fingerprint of the canonical JSON of the
real value, keyed by a salt: ``"(sensitive) sha256:<hex>"`` with the salt of
the cluster's state lineage, which stays in the state, or
``"(sensitive) pbkdf2:<hex>"`` with a salt a saved plan carries (a cluster
with no state yet), slow on purpose. A changed secret still shows as a
change, while a leaked plan gives nothing to test guesses against cheaply
(``sensitive_hash``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model.valuepaths import covered_by_any, join

__all__ = [
    "ACCESS_KEY_VARIABLES",
    "CREDENTIAL_VARIABLES",
    "KDF_ITERATIONS",
    "KDF_PREFIX",
    "PUBLISHED_SALT_PREFIX",
    "SECRET_KEY_VARIABLES",
    "SECURITY_TOKEN_VARIABLE",
    "SENSITIVE_PREFIX",
    "TOKEN_VARIABLE",
    "is_redacted",
    "keep_hashed",
    "looks_secret",
    "published_salt",
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

# Key segments that name a credential (compared without case, `_`, `-` or `.`).
# A whole segment must be one of them: `disable_auto_mount_secret`,
# `secret_name` or a toleration's `key` name things, they hold no secret.
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "token", "secret", "secretkey", "accesskey", "sk",
    "apikey", "privatekey", "credentials", "credential", "clientsecret", "authtoken",
    "accesstoken", "apitoken", "bearertoken", "refreshtoken", "secretaccesskey",
})
# Compound names that end in an unambiguous credential word (`db_password`,
# `adminPassword`, `api_token`) count too: the word is the noun being named.
_SECRET_SUFFIX = re.compile(r"(password|passwd|token|secretkey|accesskey|apikey|privatekey"
                            r"|credentials)$")
_SEPARATORS = re.compile(r"[_\-.\s]")


@dataclass(frozen=True)
class SensitiveRules:
    """Which leaves of one add-on's values are sensitive, and why
    (docs/desired-state.md, "Which values are sensitive").

    Paths are dotted, list indexes as ``[0]``. A leaf is sensitive when it is
    at or under a ``secret_paths`` entry (it came from ``secret()``: always),
    at or under a ``declared`` path (``sensitive:``), or when a whole key
    segment on its path is a secret word and its value is a non-empty string,
    unless a ``not_sensitive`` path covers it. Booleans, numbers and ``null``
    are never sensitive by name.
    """

    secret_paths: frozenset[str] = frozenset()
    declared: frozenset[str] = frozenset()
    not_sensitive: frozenset[str] = frozenset()


NO_RULES = SensitiveRules()


@functools.lru_cache(maxsize=8192)
def is_secret_word(key: str) -> bool:
    """True when the key segment as a whole names a credential."""
    found = _SECRET_WORD_SEEN.get(key)
    if found is None:
        word = _SEPARATORS.sub("", key).lower()
        found = word in SECRET_WORDS or bool(_SECRET_SUFFIX.search(word))
        if len(_SECRET_WORD_SEEN) > 100_000:
            _SECRET_WORD_SEEN.clear()
        _SECRET_WORD_SEEN[key] = found
    return found


_SECRET_WORD_SEEN: dict[str, bool] = {}
"""Answers so far: each plan asks for every key of every add-on's values, and
80,000 add-ons spell the same few hundred keys (the regexes were a tenth of a
plan's CPU)."""


def looks_secret(key: str) -> bool:
    """Kept for callers that ask about one key name: ``is_secret_word``."""
    return is_secret_word(key)


def leaf_is_sensitive(keys: Sequence[str | int], path: str, value: Any,
                      rules: SensitiveRules) -> bool:
    """The one predicate: is the leaf ``value`` at ``path`` (whose segments are
    ``keys``) sensitive under ``rules``? Plan views, state and drift all ask it."""
    if covered_by_any(path, rules.secret_paths):
        return True
    if covered_by_any(path, rules.not_sensitive):
        return False
    if covered_by_any(path, rules.declared):
        return True
    return (type(value) is str and value != ""
            and any(type(k) is str and is_secret_word(k) for k in keys))


_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def _has_secret_word(value: Any) -> bool:
    # Plain loops and exact-type checks first: this walks every add-on's whole
    # values tree on each plan (docs/planning.md, "Performance targets": CPU
    # per add-on). A map whose keys
    # are all known plain words is cleared by one C-level subset test, and only
    # its containers are walked into: no call per leaf.
    kind = type(value)
    if kind in _LEAF_TYPES:
        return False  # most nodes: no slow isinstance against the Mapping ABC
    if kind is dict:
        if not _PLAIN_WORDS.issuperset(value):
            for key in value:
                if type(key) is not str:
                    key = str(key)
                elif key in _PLAIN_WORDS:
                    continue
                if is_secret_word(key):
                    return True
                if len(_PLAIN_WORDS) > 100_000:
                    _PLAIN_WORDS.clear()
                _PLAIN_WORDS.add(key)
        for child in value.values():
            if type(child) not in _LEAF_TYPES and _has_secret_word(child):
                return True
        return False
    if kind is list:
        return any(type(child) not in _LEAF_TYPES and _has_secret_word(child)
                   for child in value)
    if isinstance(value, Mapping):
        for key, child in value.items():
            if is_secret_word(key if type(key) is str else str(key)):
                return True
            if _has_secret_word(child):
                return True
        return False
    if isinstance(value, list | tuple):
        return any(_has_secret_word(child) for child in value)
    return False


_PLAIN_WORDS: set[str] = set()
"""Keys known not to be secret words (``is_secret_word`` said no)."""


def sensitive_leaves(values: Any, rules: SensitiveRules, *,
                     keys: Sequence[str | int] = (), path: str = "") -> frozenset[str]:
    """Paths of the leaves of ``values`` (found at ``path``, whose segments are
    ``keys``) that no output may show in clear."""
    if (not rules.secret_paths and not rules.declared and not _has_secret_word(values)
            and not any(type(k) is str and is_secret_word(k) for k in keys)):
        return _NONE  # the usual add-on: no path strings to build
    found: set[str] = set()
    _collect(values, list(keys), path, rules, found)
    return frozenset(found) if found else _NONE


_NONE: frozenset[str] = frozenset()
"""One empty answer for every add-on: ``frozenset()`` is a new 216-byte object
each time, and a plan over 10,000 clusters holds 80,000 of these."""


def _collect(node: Any, keys: list[str | int], path: str, rules: SensitiveRules,
             found: set[str]) -> None:
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            _collect(value, [*keys, str(key)], join(path, str(key)), rules, found)
        return
    if isinstance(node, list | tuple) and node:
        for index, value in enumerate(node):
            _collect(value, [*keys, index], join(path, index), rules, found)
        return
    if leaf_is_sensitive(keys, path, node, rules):
        found.add(path)



def variable_looks_secret(name: str) -> bool:
    """True for the reconciler's credential variables and names such as ``DB_PASSWORD``,
    ``API_TOKEN``, ``OBS_SK`` or ``SIGNING_KEY``."""
    return name.upper() in CREDENTIAL_VARIABLES or bool(_SECRET_VARIABLE.search(name))


def sensitive_hash(value: Any, salt: str) -> str:
    """The stored form of a sensitive value: a fingerprint keyed by ``salt``.

    A state's salt never leaves the state (plans bound to a state don't carry
    it), so its fingerprints are a fast salted SHA-256: without the salt there
    is nothing to test a guess against. A salt that must travel in a saved
    plan (a cluster with no state yet) is a ``published_salt()``: its
    fingerprints are PBKDF2-HMAC-SHA256 with ``KDF_ITERATIONS`` rounds, so each
    guess at a secret costs an attacker holding the plan as much as it cost us."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if salt.startswith(PUBLISHED_SALT_PREFIX):
        return _slow_hash(canonical, salt)
    digest = hashlib.sha256((salt + "\x00" + canonical).encode()).hexdigest()
    return SENSITIVE_PREFIX + digest


PUBLISHED_SALT_PREFIX = "kdf:"
"""Marks a salt that is written next to its fingerprints (see ``sensitive_hash``)."""

KDF_PREFIX = "(sensitive) pbkdf2:"
KDF_ITERATIONS = 20_000
"""7 ms a fingerprint on an idle core, 20 ms on a busy one
(tests/perf/fingerprint_bench.py); a plan pays it once per secret leaf of a
cluster without state, a guesser once per guess."""


def published_salt(seed: str | None = None) -> str:
    """A salt for fingerprints that a saved plan will carry: random, or from
    ``seed`` (reproducible example plans)."""
    return PUBLISHED_SALT_PREFIX + (seed if seed is not None else secrets.token_hex(16))


@functools.lru_cache(maxsize=4096)
def _slow_hash(canonical: str, salt: str) -> str:
    # Cached: one plan asks for the same leaf's fingerprint several times
    # (the diff, the plan file, the freshness check), and only the first may cost.
    digest = hashlib.pbkdf2_hmac("sha256", canonical.encode(), salt.encode(), KDF_ITERATIONS)
    return KDF_PREFIX + digest.hex()


def is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((SENSITIVE_PREFIX, KDF_PREFIX))


def keep_hashed(hasher: Callable[[Any], str]) -> Callable[[Any], Any]:
    """``hasher`` for ``valuepaths.hash_at``, keeping a node already in its
    stored form: hashing twice gives the same result, which is what lets a
    saved plan or a state be read and written again byte for byte."""
    def hash_node(node: Any) -> Any:
        return node if is_redacted(node) else hasher(node)
    return hash_node

