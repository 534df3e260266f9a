"""``--notify``: the operator's notification targets for ``apply`` and ``drift``.

Targets are operator configuration (flags, environment), never read from the
desired-state files a pull request can change. A target that fails is a
warning on stderr (and, for apply, a journal line): never an exit code.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from reconciler.cli.exits import fail
from reconciler.model.apply import ApplyResult, ApplyStopped
from reconciler.model.drift import DriftReport
from reconciler.model.rollout_result import RolloutProgress, RolloutResult, WaveResult
from reconciler.notify import (
    DEFAULT_HMAC_KEY_ENV,
    DEFAULT_TIMEOUT_S,
    Target,
    TargetError,
    deliver,
    parse_targets,
    split_targets,
)
from reconciler.notify.drift import DriftMemory, decide, drift_digest, memory_key
from reconciler.statemgr import StateError
from reconciler.statemgr.backend import StateBackend
from reconciler.views.notification import (
    Notification,
    apply_finished,
    drift_notification,
    wave_finished,
    wave_started,
)

__all__ = ["Notifier", "NotifyingWaves", "notifier_of", "notify_drift", "notify_options"]

F = TypeVar("F", bound=Callable[..., Any])

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        match = _DURATION.fullmatch(str(value).strip())
        if not str(value).strip() or not match:
            self.fail(f"{value!r} is not a duration: use e.g. 90s, 30m, 4h, 1d or 1h30m",
                      param, ctx)
        days, hours, minutes, seconds = (int(p or 0) for p in match.groups())
        return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def notify_options(*, repeat: bool) -> Callable[[F], F]:
    """``--notify``, ``--notify-hmac-key-env`` (and for drift ``--notify-repeat``)."""

    def decorate(command: F) -> F:
        options = [
            click.option(
                "--notify", "notify_urls", multiple=True, metavar="URL",
                help="Send a notification to URL (repeatable): an Apprise URL (slack://…,"
                     " msteams://…, json://host/path …) or a signed JSON webhook"
                     " hmac+https://host/path. RECONCILER_NOTIFY: URLs separated by spaces or"
                     " commas (docs/notifications.md)."),
            click.option(
                "--notify-hmac-key-env", default=DEFAULT_HMAC_KEY_ENV, show_default=True,
                metavar="NAME",
                help="The environment variable holding the HMAC-SHA256 key of hmac+ webhooks."),
            click.option("--notify-timeout", type=click.FloatRange(min=0.1),
                         default=DEFAULT_TIMEOUT_S, hidden=True,
                         help="Seconds a notification target may take (tests shorten it)."),
        ]
        if repeat:
            options.append(click.option(
                "--notify-repeat", type=Duration(), default=None, metavar="DURATION",
                help="Remind of an unchanged drift once this long has passed since it was"
                     " last notified (e.g. 24h); without it, unchanged drift stays quiet."))
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@dataclasses.dataclass
class Notifier:
    targets: tuple[Target, ...]
    timeout_s: float
    store: StateBackend | None = None
    """For apply: where a failed delivery is journaled."""

    def send(self, note: Notification, journal: Sequence[str] = ()) -> bool:
        """Deliver ``note``; warn on stderr about each target that failed. True if
        any target took it."""
        done = deliver(self.targets, note.payload, note.title, note.text,
                       timeout_s=self.timeout_s)
        for failure in done.failures:
            click.echo(f"warning: notification {note.event} not delivered: {failure}", err=True)
            for cluster in journal if self.store is not None else ():
                try:
                    self.store.append_journal(cluster, {  # type: ignore[union-attr]
                        "action": "notify-failed", "event": note.event, "reason": failure})
                except StateError as err:
                    click.echo(f"warning: cannot journal the failed notification: {err}",
                               err=True)
        return bool(done.delivered)

    def apply_finished(self, outcome: ApplyResult | RolloutResult | ApplyStopped) -> None:
        note = apply_finished(outcome)
        if note is None:
            return
        result = outcome.apply if isinstance(outcome, RolloutResult) else outcome
        clusters = [c.name for c in result.clusters] if isinstance(result, ApplyResult) else []
        self.send(note, clusters)


def notifier_of(kwargs: dict[str, Any], store: StateBackend | None = None) -> Notifier | None:
    """Pop the notify options from a command's keyword arguments; None without targets.
    A target that cannot be used is an error now, before anything runs."""
    urls = tuple(kwargs.pop("notify_urls", ()) or ())
    key_env = str(kwargs.pop("notify_hmac_key_env", DEFAULT_HMAC_KEY_ENV))
    timeout_s = float(kwargs.pop("notify_timeout", DEFAULT_TIMEOUT_S))
    if not urls:
        urls = tuple(split_targets(os.environ.get("RECONCILER_NOTIFY", "")))
    if not urls:
        return None
    try:
        targets = parse_targets(urls, os.environ, key_env)
    except TargetError as err:
        fail(str(err))
    return Notifier(targets, timeout_s, store)


class NotifyingWaves:
    """A ``RolloutProgress`` that shows the waves (``inner``) and notifies
    ``wave.started`` and ``wave.done`` / ``wave.halted``: one message each per wave."""

    def __init__(self, inner: RolloutProgress, notifier: Notifier) -> None:
        self.inner = inner
        self.notifier = notifier

    def wave_started(self, wave: str, clusters: int, changing: int, parallel: int) -> None:
        self.inner.wave_started(wave, clusters, changing, parallel)
        self.notifier.send(wave_started(wave, clusters, changing))

    def soak_started(self, wave: str, clusters: int, addons: int, soak_s: float) -> None:
        self.inner.soak_started(wave, clusters, addons, soak_s)

    def wave_done(self, result: WaveResult) -> None:
        self.inner.wave_done(result)
        self.notifier.send(wave_finished(result), result.clusters)


def notify_drift(notifier: Notifier, report: DriftReport, store: StateBackend,
                 repeat_s: float | None, now: datetime | None = None) -> None:
    """Notify when the drift set changed since the last notified run (or a reminder
    is due); remember it in the state backend once a target took it."""
    now = now or datetime.now(UTC)
    key = memory_key(report)
    try:
        previous = DriftMemory.from_bytes(store.read_blob(key))
    except StateError as err:
        click.echo(f"warning: cannot read the last notified drift ({err}); notifying", err=True)
        previous = None
    digest = drift_digest(report)
    decision = decide(previous, digest, now, repeat_s)
    if decision is None:
        return
    event, reminder = decision
    if not notifier.send(drift_notification(event, report, reminder=reminder)):
        return  # not remembered: the next run tries again
    memory = DriftMemory(digest, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        store.write_blob(key, memory.to_bytes())
    except StateError as err:
        click.echo(f"warning: cannot remember the notified drift ({err})", err=True)
