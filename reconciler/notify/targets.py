"""Notification targets from the operator's ``--notify`` URLs, checked before anything runs."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import apprise

__all__ = ["DEFAULT_HMAC_KEY_ENV", "Target", "TargetError", "parse_targets", "split_targets"]

DEFAULT_HMAC_KEY_ENV = "RECONCILER_NOTIFY_HMAC_KEY"
HMAC_SCHEMES = {"hmac+https": "https", "hmac+http": "http"}


class TargetError(ValueError):
    """A ``--notify`` URL that cannot be used (one line, no secret in it)."""


@dataclass(frozen=True)
class Target:
    url: str
    """What is sent to: an Apprise URL, or the webhook's ``http(s)://`` URL."""
    shown: str
    """The URL for messages: no tokens, passwords or query."""
    hmac_key: bytes = b""
    """Set for a signed webhook; empty for an Apprise URL."""

    @property
    def is_webhook(self) -> bool:
        return bool(self.hmac_key)


def split_targets(text: str) -> list[str]:
    """``RECONCILER_NOTIFY``: URLs separated by whitespace or commas."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def parse_targets(urls: Iterable[str], environ: Mapping[str, str],
                  hmac_key_env: str = DEFAULT_HMAC_KEY_ENV) -> tuple[Target, ...]:
    """Every URL as a ``Target``, or ``TargetError`` naming the first bad one."""
    targets: list[Target] = []
    for url in urls:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme in HMAC_SCHEMES:
            targets.append(_webhook(url, scheme, environ, hmac_key_env))
        elif scheme:
            targets.append(_apprise(url))
        else:
            raise TargetError(f"--notify {_shown_raw(url)!r}: not a URL; use an Apprise URL"
                              " (slack://…, json://host/…) or hmac+https://host/path")
    return tuple(targets)


def _webhook(url: str, scheme: str, environ: Mapping[str, str], key_env: str) -> Target:
    parts = urllib.parse.urlsplit(url)
    real = urllib.parse.urlunsplit((HMAC_SCHEMES[scheme], *parts[1:]))
    shown = f"{scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"\
            f"{parts.path}"
    if not parts.hostname:
        raise TargetError(f"--notify {shown}: no host")
    if parts.username is not None or parts.password is not None:
        raise TargetError(f"--notify {shown}: no user or password in a webhook URL; the"
                          " receiver checks the X-Signature header instead")
    key = environ.get(key_env, "")
    if not key:
        raise TargetError(f"--notify {shown}: the webhook is signed with the key in the"
                          f" environment variable {key_env}, which is not set (name another"
                          " one with --notify-hmac-key-env)")
    return Target(url=real, shown=shown, hmac_key=key.encode())


def _apprise(url: str) -> Target:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        raise TargetError(f"--notify {_shown_raw(url)}: not an Apprise URL that can be used"
                          " (see https://github.com/caronc/apprise/wiki for the services);"
                          " or use hmac+https://host/path for a signed JSON webhook")
    return Target(url=url, shown=str(plugin.url(privacy=True)).split("?", 1)[0])  # type: ignore[no-untyped-call]


def _shown_raw(url: str) -> str:
    # Never echo what may be a token: the scheme and host at most.
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else "URL"
