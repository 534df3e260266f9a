"""Jinja2 rendering of one desired-state file, collecting every problem it can.

Template globals: ``vars`` (a mapping), ``env(name, default=None)`` and
``secret(name)``. Rendering is strict (an undefined variable is an error) but
does not stop at the first one: undefined values, missing environment
variables and missing secrets are recorded with their template line and
rendering goes on, so the user sees all of them at once. Errors Jinja2 cannot
continue past (syntax errors, failing filters) stop the file.

``secret(name)`` does not put the value in the text: it renders a unique
placeholder token. The caller parses the YAML with the tokens in place and
substitutes the real values into the leaves afterwards, which is how it knows
exactly which leaves are sensitive (and why no diagnostic can show a secret).
"""

from __future__ import annotations

import difflib
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import jinja2


@dataclass(frozen=True)
class RenderProblem:
    line: int
    column: int
    message: str
    hint: str = ""


@dataclass(frozen=True)
class SecretUse:
    token: str
    name: str
    """Environment variable name."""
    value: str | None
    """None when the variable is not set (already reported)."""


@dataclass
class Rendered:
    text: str | None
    """None when rendering had to stop."""
    problems: list[RenderProblem] = field(default_factory=list)
    secrets: dict[str, SecretUse] = field(default_factory=dict)
    """By token."""


class SecretTokens:
    """Makes placeholder tokens unique within one run (a random nonce + a counter).

    Tokens are upper-case letters and digits so they survive YAML untouched,
    quoted or not, and cannot clash with anything a user would write.
    """

    def __init__(self, nonce: str) -> None:
        self.prefix = f"RECONCILERSECRET{nonce.upper()}N"
        self._count = 0
        self.pattern = re.compile(re.escape(self.prefix) + r"[0-9]+Z", re.IGNORECASE)

    def next(self) -> str:
        self._count += 1
        return f"{self.prefix}{self._count}Z"


class _Recorder:
    """Collects problems of one render and knows how to find the template line."""

    def __init__(self, filename: str, source_lines: list[str], strict: bool) -> None:
        self.filename = filename
        self.source_lines = source_lines
        self.strict = strict
        self.template: jinja2.Template | None = None
        self.problems: list[RenderProblem] = []

    def current_line(self) -> int:
        """Template line of the innermost template frame on the stack (0 if none)."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename and self.template is not None:
                return self.template.get_corresponding_lineno(frame.f_lineno)
            frame = frame.f_back  # type: ignore[assignment]
        return 0

    def record(self, message: str, hint: str = "", needle: str = "") -> None:
        if not self.strict:
            return
        line = self.current_line()
        problem = RenderProblem(line, self.column(line, needle), message, hint)
        if problem not in self.problems:  # a loop repeats the same problem
            self.problems.append(problem)

    def column(self, line: int, needle: str) -> int:
        if not 0 < line <= len(self.source_lines):
            return 0
        text = self.source_lines[line - 1]
        for candidate in (needle, "{{", "{%"):
            if candidate and candidate in text:
                return text.index(candidate) + 1
        return 1


def _undefined_class(recorder: _Recorder, variables: Mapping[str, Any]) -> type[jinja2.Undefined]:
    class RecordingUndefined(jinja2.ChainableUndefined):
        """Strict, but records instead of raising when printed, so rendering goes on.

        Chainable so ``vars.a.b`` reports ``a`` once instead of stopping on ``b``.
        Every other use (iteration, comparison, arithmetic) raises like StrictUndefined.
        """

        __slots__ = ()

        def __str__(self) -> str:
            name = self._undefined_name or ""
            if self._undefined_obj is variables:
                message, hint = f"undefined variable `vars.{name}`", _vars_hint(name, variables)
            elif self._undefined_obj is jinja2.utils.missing:
                message, hint = f"undefined name `{name}`", _global_hint(name, variables)
            else:
                message, hint = f"undefined value: {self._undefined_message}", ""
            recorder.record(message, hint, needle=name)
            return ""

        __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = jinja2.StrictUndefined.__iter__
        __contains__ = jinja2.StrictUndefined.__contains__

    if not recorder.strict:
        return jinja2.ChainableUndefined
    return RecordingUndefined


def _vars_hint(name: str, variables: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in variables], n=1)
    if close:
        return f"did you mean `vars.{close[0]}`?"
    defined = ", ".join(sorted(str(k) for k in variables)) or "none"
    return (
        f"set it in the file's `vars:` block, a --var-file or --var {name}=…; defined vars: "
        f"{defined}"
    )


def _global_hint(name: str, variables: Mapping[str, Any]) -> str:
    if name in variables:
        return f"variables are under `vars`: write `vars.{name}`"
    return "the template globals are `vars`, `env(name, default)` and `secret(name)`"


class _Fatal(Exception):
    """Raised inside the template to stop rendering (only in helpers the user misuses)."""


def render(
    source: str,
    filename: str,
    *,
    variables: Mapping[str, Any],
    environ: Mapping[str, str],
    tokens: SecretTokens,
    strict: bool = True,
) -> Rendered:
    """Render ``source``. With ``strict=False`` nothing is recorded (the first pass
    that only extracts the file's ``vars:`` block)."""
    recorder = _Recorder(filename, source.splitlines(), strict)
    secrets: dict[str, SecretUse] = {}

    def env(name: str, default: Any = None) -> Any:
        if not isinstance(name, str):
            _fail("env() takes the variable name as a string")
        if name in environ:
            return environ[name]
        if default is None:
            recorder.record(
                f"environment variable `{name}` is not set",
                f"export {name}=… or give a default: env('{name}', 'value')",
                needle=name,
            )
            return ""
        return default

    def secret(name: str) -> str:
        if not isinstance(name, str):
            _fail("secret() takes the environment variable name as a string")
        if not strict:
            # Stable across the lenient passes; a secret in `vars:` is rejected by the strict one.
            return "(secret)"
        value = environ.get(name)
        if value is None:
            recorder.record(
                f"secret environment variable `{name}` is not set",
                f"export {name}=… before running; its value is never printed",
                needle=name,
            )
        token = tokens.next()
        secrets[token] = SecretUse(token, name, value)
        return token

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda _name: (source, filename, lambda: True)),
        undefined=_undefined_class(recorder, variables),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    environment.globals.update(vars=variables, env=env, secret=secret)
    try:
        template = environment.get_template(filename)
        recorder.template = template
        text = template.render()
    except jinja2.TemplateSyntaxError as err:
        line = err.lineno or 0
        recorder.problems.append(
            RenderProblem(line, recorder.column(line, ""), f"Jinja2 syntax error: {err.message}")
        )
        return Rendered(None, recorder.problems, secrets)
    except Exception as err:  # any error raised while evaluating the template stops this file
        line = _template_line(err, filename, recorder)
        message = _describe(err)
        recorder.problems.append(RenderProblem(line, recorder.column(line, ""), message))
        return Rendered(None, recorder.problems, secrets)
    return Rendered(text, recorder.problems, secrets)


def _fail(message: str) -> NoReturn:
    raise _Fatal(message)


def _describe(err: Exception) -> str:
    if isinstance(err, _Fatal):
        return str(err)
    if isinstance(err, jinja2.UndefinedError):
        return f"undefined variable: {err.message}"
    if isinstance(err, jinja2.TemplateError):
        return f"Jinja2 error: {err.message}"
    return f"Jinja2 rendering failed: {type(err).__name__}: {err}"


def _template_line(err: Exception, filename: str, recorder: _Recorder) -> int:
    """Jinja2 rewrites tracebacks so template frames carry template line numbers."""
    line = 0
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == filename and frame.lineno:
            line = frame.lineno
    if line and recorder.template is not None and line > len(recorder.source_lines):
        line = recorder.template.get_corresponding_lineno(line)
    return line
