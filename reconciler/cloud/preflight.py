"""Checks made before a command sends anything: endpoints and credentials.

A bad endpoint or missing credentials is a mistake in the input, not a cloud
failure: it is reported once, as one line saying what would be valid, before a
single request leaves (and before a token could reach the wrong host).

Which ``emulator://NAME`` endpoints exist is not known here: the caller that
serves them in-process (the command line) passes their names in, so the cloud
layer never imports the emulator.

Whether an endpoint may receive credentials at all is not decided here but in
``model/trust.py``, before the files are even accepted.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping

import httpx

from reconciler.cloud.credentials import Credentials
from reconciler.cloud.errors import CloudError
from reconciler.model.trust import EMULATOR_SCHEME

__all__ = [
    "EMULATOR_SCHEME",
    "PreflightError",
    "check_credentials",
    "check_emulator",
    "check_endpoint",
    "preflight",
]

_VALID_FORMS = "https://HOST[:PORT] (e.g. https://cce.ap-southeast-1.myhuaweicloud.com) or emulator://NAME"


class PreflightError(CloudError):
    """An endpoint or the credentials can't work; found before anything is sent."""


def check_emulator(name: str, emulators: Collection[str]) -> None:
    """Raise ``PreflightError`` listing ``emulators`` unless ``name`` is one."""
    if name not in emulators:
        raise PreflightError(
            f"unknown emulator scenario {name!r} in endpoint {EMULATOR_SCHEME + name!r}: "
            f"known scenarios: {', '.join(f'{EMULATOR_SCHEME}{k}' for k in sorted(emulators))}"
        )


def check_endpoint(endpoint: str, emulators: Collection[str] = ()) -> None:
    """Raise ``PreflightError`` unless ``endpoint`` is ``""`` (the region's
    public endpoint), ``emulator://NAME`` with NAME in ``emulators`` (the
    scenarios the caller serves in-process) or an absolute http(s) URL."""
    if not endpoint:
        return
    if endpoint.startswith(EMULATOR_SCHEME):
        check_emulator(endpoint.removeprefix(EMULATOR_SCHEME), emulators)
        return
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise PreflightError(
            f"endpoint {endpoint!r} is not a valid URL ({exc}): expected {_VALID_FORMS}"
        ) from None
    if url.scheme not in ("https", "http") or not url.host:
        raise PreflightError(f"unsupported endpoint {endpoint!r}: expected {_VALID_FORMS}")
    if url.port is not None and not 0 < url.port < 65536:
        # httpx parses it; the socket layer would crash on it (OverflowError).
        raise PreflightError(
            f"endpoint {endpoint!r} has port {url.port}, outside 1-65535: expected {_VALID_FORMS}"
        )


def check_credentials(environ: Mapping[str, str] | None = None) -> None:
    """Raise ``PreflightError`` naming the variables to set when the
    environment holds no usable credentials. Never echoes a value."""
    env = os.environ if environ is None else environ
    ak = next((n for n in ("HW_ACCESS_KEY", "CLOUD_SDK_AK") if env.get(n)), "")
    sk = next((n for n in ("HW_SECRET_KEY", "CLOUD_SDK_SK") if env.get(n)), "")
    if env.get("HW_AUTH_TOKEN") or (ak and sk):
        return
    if ak:
        raise PreflightError(
            f"{ak} is set but its secret key is not: set HW_SECRET_KEY (or CLOUD_SDK_SK)"
            ", or use HW_AUTH_TOKEN instead"
        )
    if sk:
        raise PreflightError(
            f"{sk} is set but its access key is not: set HW_ACCESS_KEY (or CLOUD_SDK_AK)"
            ", or use HW_AUTH_TOKEN instead"
        )
    raise PreflightError(
        "no credentials for a Huawei Cloud endpoint: set HW_ACCESS_KEY and HW_SECRET_KEY"
        " (or HW_AUTH_TOKEN), and HW_PROJECT_ID; emulator:// endpoints need none"
    )


def preflight(
    endpoints: Iterable[tuple[str, str]],
    *,
    credentials: Credentials | None = None,
    environ: Mapping[str, str] | None = None,
    emulators: Collection[str] = (),
) -> None:
    """Check every ``(endpoint, region)`` a command will use, and the
    credentials when one of them is not an emulator. ``emulators``: the
    ``emulator://NAME`` names the caller serves. First problem wins."""
    needs_credentials = False
    env = os.environ if environ is None else environ
    for endpoint, region in endpoints:
        check_endpoint(endpoint, emulators)
        if endpoint.startswith(EMULATOR_SCHEME):
            continue
        needs_credentials = True
        if not endpoint and not (region or (credentials and credentials.region)
                                 or env.get("HW_REGION_NAME")):
            raise PreflightError(
                "a cluster has no endpoint and no region to derive it from: set region"
                " (or HW_REGION_NAME), or endpoint"
            )
    if needs_credentials and credentials is None:
        check_credentials(env)
