"""The options every command shares, declared once.

``common_options`` puts the desired-state inputs (FILE…, ``--var``,
``--var-file``, ``--cluster``, ``--addon``, ``--endpoint``) and, for the commands that talk
to the cloud, the run flags (``--state-dir``, ``--parallelism``, ``--no-color``,
``-v``) on a command and hands it one frozen ``CommonOptions`` as ``opts``.
A new common flag is a field here and one ``click.option`` below: nothing
outside ``cli/`` changes, and tests/commands/test_common_options.py checks that
every command taking desired-state files exposes it the same way.

``output_options`` puts the output flags alone (``--no-color``, ``-v``,
``--log-file``) on the commands that take no desired-state files (``show``,
``state …``, ``force-unlock``, ``schema``, ``emulator serve``): every command
that prints accepts them (tests/commands/test_output_flags.py walks the
command tree). ``FiniteFloat`` is the type of every number flag: a finite number,
so ``nan`` or ``inf`` is a usage error, not a traceback deep in a run.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.masking.logs import start_file_logging, start_verbose_logging
from reconciler.model.trust import ALLOW_ENV_ENV, ALLOWED_ENDPOINTS_ENV, EndpointRule, EnvRule
from reconciler.statemgr import DEFAULT_STATE_DIR

__all__ = [
    "ARGV_KEY",
    "CommonOptions",
    "FiniteFloat",
    "common_options",
    "env_color",
    "lock_timeout_option",
    "no_color_option",
    "output_options",
    "state_dir_option",
    "state_option",
    "use_color",
]

F = TypeVar("F", bound=Callable[..., Any])

ARGV_KEY = "reconciler.argv"
"""``click.Context.meta`` key of the arguments as typed (after the program name),
kept by the root group for messages that say how to run a command again."""


@dataclass(frozen=True)
class CommonOptions:
    """The shared flags of one command run, as typed by the user."""

    files: tuple[Path, ...]
    variables: tuple[str, ...] = ()
    var_files: tuple[Path, ...] = ()
    clusters: tuple[str, ...] = ()
    addons: tuple[str, ...] = ()
    endpoint: str | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    state: str | None = None
    """``--state URL`` / ``RECONCILER_STATE``: wins over ``state_dir`` (cli/backend.py)."""
    parallelism: int = 10
    rate_limit: float | None = None
    """``--rate-limit R``: requests per second per endpoint; None adapts to 429s."""
    no_color: bool = False
    verbose: int = 0
    log_file: Path | None = None
    allow_endpoints: tuple[str, ...] = ()
    """``--allow-endpoint``, joined by ``RECONCILER_ALLOWED_ENDPOINTS`` (``endpoint_rule``)."""
    allow_env: tuple[str, ...] = ()
    """``--allow-env``, joined by ``RECONCILER_ALLOW_ENV`` (``env_rule``)."""

    @property
    def color(self) -> bool:
        return use_color(self.no_color)

    @property
    def endpoint_rule(self) -> EndpointRule:
        """Where the operator lets credentials go, beyond the official endpoints:
        the flags and the environment together (a CI job sets the variable, a
        step may add a flag). ``--endpoint`` counts too (the loader adds it)."""
        state_given = bool(self.state and self.state.strip())
        return EndpointRule.of(self.allow_endpoints, os.environ.get(ALLOWED_ENDPOINTS_ENV),
                               state_given=state_given)

    @property
    def env_rule(self) -> EnvRule:
        """The variables templates may read: the flags and the environment together."""
        return EnvRule.of(self.allow_env, os.environ.get(ALLOW_ENV_ENV))


def use_color(no_color: bool = False) -> bool:
    """Whether this run colours its output: ``--no-color``, then ``NO_COLOR``,
    then ``FORCE_COLOR``, else only on a terminal.

    The one decision every rich console and coloured view is built with."""
    forced = env_color()
    if no_color or forced is False:
        return False
    return forced is True or sys.stdout.isatty()


def env_color() -> bool | None:
    """The environment's colour choice: False for ``NO_COLOR`` (no-color.org:
    any non-empty value), True for ``FORCE_COLOR`` (non-empty, not ``0``),
    None to detect the terminal. ``NO_COLOR`` wins when both are set.

    The root command hands this to click as ``ctx.color``: click.echo strips
    escape codes from a stream that is not a terminal unless told otherwise,
    which would undo ``FORCE_COLOR`` in a CI log.
    """
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return None


class FiniteFloat(click.FloatRange):
    """A finite number within bounds (click's FloatRange lets ``nan`` through every
    bound and ``inf`` through a lower one)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def no_color_option(command: F) -> F:
    """``--no-color``, on every command that prints (``NO_COLOR`` works too)."""
    option = click.option(
        "--no-color", is_flag=True,
        help="Never colour the output (also: NO_COLOR=1; FORCE_COLOR=1 forces it).")
    return option(command)


def state_dir_option(command: F) -> F:
    """``--state-dir``, shared by every command that touches state."""
    option = click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_STATE_DIR,
        show_default=True,
        envvar="RECONCILER_STATE_DIR",
        help="Directory of the per-cluster state files, journals and locks.",
    )
    return option(command)


def state_option(command: F) -> F:
    """``--state URL``, beside ``--state-dir`` on every command that touches state."""
    option = click.option(
        "--state",
        default=None,
        envvar="RECONCILER_STATE",
        metavar="URL",
        callback=_not_empty_state,
        help="Where states, locks and journals live: a directory, s3://BUCKET/PREFIX?"
             "endpoint=URL&region=R or postgres://USER@HOST:PORT/DB"
             " (docs/state-backends.md; wins over --state-dir).",
    )
    return option(command)


def _not_empty_state(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # An empty value typed on purpose (`--state ''`, a CI variable that expanded to
    # nothing) would otherwise mean the local default: a shared run using a
    # private state. (click already treats an empty RECONCILER_STATE as unset.)
    if value is not None and not value.strip():
        raise click.BadParameter(
            "is empty: give a directory, s3://BUCKET/PREFIX or postgres://…, or leave"
            " --state out for the local default (--state-dir)")
    return value


def lock_timeout_option(command: F) -> F:
    """``--lock-timeout``, shared by every command that takes a cluster's lock."""
    option = click.option(
        "--lock-timeout",
        type=FiniteFloat(min=0),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for a cluster's lock (0: fail at once if it is held).",
    )
    return option(command)


def _quiet_transport_loggers() -> Callable[[], None]:
    """httpx logs each request at INFO with its full URL: the client's own line
    (cloud/sender.py) already says it, with attempt, duration and request id."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)

    def undo() -> None:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)

    return undo


def _start_logging(verbose: int, log_file: Path | None) -> None:
    """``-v`` on stderr and ``--log-file`` JSON lines, for this command run only."""
    ctx = click.get_current_context()
    ctx.call_on_close(start_verbose_logging(verbose))
    ctx.call_on_close(_quiet_transport_loggers())
    if log_file is None:
        return
    try:
        ctx.call_on_close(start_file_logging(log_file, verbose))
    except OSError as err:
        raise click.BadParameter(f"{log_file}: cannot write there: {err.strerror or err}",
                                 param_hint="--log-file (or RECONCILER_LOG)") from None


def _output_decorators() -> list[Callable[[Any], Any]]:
    """``--no-color``, ``-v`` and ``--log-file``: declared here only."""
    return [
        no_color_option,
        click.option("-v", "--verbose", count=True,
                     help="Log each request, retry and wait on stderr (-vv: with bodies)."),
        click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, envvar="RECONCILER_LOG", metavar="PATH",
                     help="Append the log as JSON lines to PATH, for a support case."),
    ]


def output_options(command: F) -> F:
    """The output flags on a command that takes no desired-state files.

    ``-v`` and ``--log-file`` start logging for the run; ``no_color`` is passed
    on only to a command that has a parameter of that name (``show``); for the
    others it turns click's colour off."""
    wants_no_color = "no_color" in inspect.signature(command).parameters

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = kwargs.pop("verbose")
        log_file = kwargs.pop("log_file")
        if not wants_no_color and kwargs.pop("no_color"):
            click.get_current_context().color = False
        _start_logging(verbose, log_file)
        return command(*args, **kwargs)

    wrapper.__dict__["__click_params__"] = list(getattr(command, "__click_params__", []))
    wrapped: Callable[..., Any] = wrapper
    for decorator in reversed(_output_decorators()):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[return-value]


# Parameter names the decorator consumes (and folds into ``CommonOptions``).
_FIELDS = ("files", "variables", "var_files", "clusters", "addons", "endpoint",
           "state_dir", "state", "parallelism", "rate_limit", "no_color", "verbose",
           "log_file", "allow_endpoints", "allow_env")


def common_options(
    *, cloud: bool = True, files_required: bool = True, select: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared flags to a command and pass them as ``opts: CommonOptions``.

    ``cloud=False`` leaves out the run flags (``validate`` sends nothing) but
    keeps the output ones (``--no-color``, ``-v``);
    ``files_required=False`` makes FILE… optional and ``select=False`` leaves
    out ``--cluster`` and ``--addon`` (``import`` names its cluster and add-on
    as arguments).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            # click passes tuples for repeatable options and nargs=-1: frozen as they are.
            given: dict[str, Any] = {name: kwargs.pop(name) for name in _FIELDS if name in kwargs}
            opts = CommonOptions(**given)
            _start_logging(opts.verbose, opts.log_file)
            return func(opts=opts, **kwargs)

        # click collects parameters on the function it decorates; the wrapper
        # carries the command's own ones (a copy, so ``func`` is left alone).
        command.__dict__["__click_params__"] = list(getattr(func, "__click_params__", []))
        decorators: list[Callable[[Any], Any]] = [
            # No exists=True on FILE… or --var-file: click would exit 2, which
            # plan and drift use for "changes"; the loader reports a missing
            # file as a diagnostic (exit 1) like every other input problem.
            click.argument("files", nargs=-1, required=files_required,
                           type=click.Path(path_type=Path)),
            click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
                         help="Set a template variable (repeatable; wins over --var-file)."),
            click.option("--var-file", "var_files", multiple=True, metavar="FILE",
                         type=click.Path(path_type=Path),
                         help="YAML file of variables (repeatable; later files win)."),
        ]
        if select:
            decorators.append(click.option("--cluster", "clusters", multiple=True, metavar="NAME",
                                           help="Only these clusters: names, glob patterns "
                                                "like prod-* or label selectors like "
                                                "'env=prod' (repeatable)."))
            decorators.append(click.option(
                "--addon", "addons", multiple=True, metavar="NAME",
                help="Only the changes of these declared add-ons, like Terraform's -target"
                     " (repeatable; the plan says it is targeted)."))
        decorators.append(click.option(
            "--endpoint", default=None, metavar="URL",
            help="Override every cluster's endpoint (https://… or emulator://NAME)."))
        # Operator configuration a pull request cannot change (docs/trust-boundary.md).
        decorators.append(click.option(
            "--allow-endpoint", "allow_endpoints", multiple=True, metavar="URL",
            help="Let credentials go to this endpoint or state URL named in the files,"
                 " beside the official CCE endpoints and emulator:// (repeatable; also"
                 f" {ALLOWED_ENDPOINTS_ENV}, comma-separated)."))
        decorators.append(click.option(
            "--allow-env", "allow_env", multiple=True, metavar="NAME",
            help="Let templates read this variable with env() or secret(); globs such as"
                 f" 'TEAM_*' (repeatable; also {ALLOW_ENV_ENV}, comma-separated)."))
        if cloud:
            decorators += [
                state_dir_option,
                state_option,
                click.option("--parallelism", type=click.IntRange(1, 1000), default=10,
                             show_default=True, help="Clusters processed at once."),
                click.option("--rate-limit", type=FiniteFloat(min=0, min_open=True),
                             default=None, metavar="R",
                             help="At most R requests per second to each endpoint (CCE "
                                  "throttles each tenant). Without it the pace adapts: "
                                  "slower on HTTP 429, faster again while none come."),
            ]
        decorators += _output_decorators()
        wrapped: Callable[..., Any] = command
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        return wrapped

    return decorate
