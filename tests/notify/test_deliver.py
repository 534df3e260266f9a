"""``notify.deliver`` against a local receiver: the signed webhook, apprise's
``json://``, masking of a secret a server quoted, and failures as lines."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time

import pytest

from reconciler.masking import register
from reconciler.notify import TargetError, deliver, parse_targets
from reconciler.notify.deliver import sign

from .receiver import receiver

MARKER = "NOTIFY-SECRET-MARKER-91c2"


def test_webhook_body_is_signed_and_a_quoted_secret_is_masked() -> None:
    register([MARKER])
    payload = {"event": "wave.halted", "failures": [{"reason": f"server said {MARKER}"}]}
    with receiver() as rx:
        targets = parse_targets([f"hmac+http://{rx.url}/hook", f"json://{rx.url}/chat"],
                                {"RECONCILER_NOTIFY_HMAC_KEY": "k"})
        done = deliver(targets, payload, f"title {MARKER}", f"text {MARKER}", timeout_s=5)
        assert done.failures == () and len(done.delivered) == 2
        (hook,) = rx.at("/hook")
        (chat,) = rx.at("/chat")
    expected = hmac.new(b"k", hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Signature"] == f"sha256={expected}" == sign(hook.body, b"k")
    assert hook.json()["event"] == "wave.halted"
    for body in (hook.body, chat.body):
        assert MARKER.encode() not in body
        assert b"server said" in body or b"title" in body


def test_failures_are_lines_naming_the_target_without_its_secrets() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with receiver(status=500) as rx:
        targets = parse_targets(
            [f"hmac+http://{rx.url}/hook?token=q-secret",
             f"json://127.0.0.1:{port}/"],
            {"RECONCILER_NOTIFY_HMAC_KEY": "k"})
        started = time.monotonic()
        done = deliver(targets, {"event": "x"}, "t", "t", timeout_s=2)
    assert time.monotonic() - started < 5
    assert done.delivered == ()
    assert done.failures[0] == f"hmac+http://{rx.url}/hook: HTTP 500"
    assert done.failures[1].startswith(f"json://127.0.0.1:{port}")
    assert "secret" not in " ".join(done.failures)


def test_a_webhook_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(TargetError, match="no user or password") as err:
        parse_targets(["hmac+https://user:pw-secret@hooks.example/x"],
                      {"RECONCILER_NOTIFY_HMAC_KEY": "k"})
    assert "pw-secret" not in str(err.value)
