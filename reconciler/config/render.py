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
The token is used whole or not at all (``_WholeSecret``): a filter, test,
slice, attribute, operator or ``~`` on it would act on the token, not the
value, so each is an error at its line.

Files are untrusted input, so rendering runs in Jinja2's
``ImmutableSandboxedEnvironment`` (no Python internals: a ``SecurityError``
becomes an "unsafe template" problem), with ``range()``, sequence repetition,
powers, the total output and the rendering time bounded, and without ``include``/``import``/
``extends`` (a file is rendered on its own; nothing else on disk is read).
``env()`` and ``secret()`` read only the variables the operator allows
(``model.trust.EnvRule``: ``--allow-env``, never the reconciler's own), and
``env()`` refuses secret-looking ones: their value would land in plans in
clear, which is what ``secret()`` is for.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reconciler.config.template_bounds import (
    MAX_CHARS,
    bounded_filters,
    check_binop,
    check_call,
    check_printed,
    printed_size,
)
from reconciler.model.secret_template import PLACEHOLDER_PREFIX
from reconciler.model.sensitive import variable_looks_secret
from reconciler.model.trust import NO_VARIABLES, EnvRule

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE",
    "MAX_RENDER_SECONDS",
    "SECRET_PLACEHOLDER",
    "RenderProblem",
    "Rendered",
    "SecretTokens",
    "SecretUse",
    "render",
]

MAX_RANGE = 10_000
"""Items a template's ``range()`` may produce (a real file loops over dozens)."""
MAX_OUTPUT_CHARS = MAX_CHARS
"""Characters a file may render to (and the biggest string any operation may build)."""
MAX_RENDER_SECONDS = 10.0
"""Wall time one file may take to render (a loop that prints nothing still burns CPU)."""
SECRET_PLACEHOLDER = "(secret)"
"""What an unset ``secret()`` stands for when secrets are not needed (``validate``)."""
_MAX_POWER_BITS = 4096
"""Bits an integer ``a ** b`` may have: ``10 ** 10 ** 10`` would run for hours."""
_UNSUPPORTED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Extends: "extends",
}


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
        self.prefix = f"{PLACEHOLDER_PREFIX}{nonce.upper()}N"
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
        self._seen: set[RenderProblem] = set()

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
        if problem not in self._seen:  # a loop repeats the same problem (a set: linear)
            self._seen.add(problem)
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
        Every other use (iteration, comparison, arithmetic) stops the file, with
        the same message in our words (never Jinja2's "'dict object' has no attribute").
        """

        __slots__ = ()

        def explain(self) -> tuple[str, str]:
            name = self._undefined_name or ""
            owner = self._undefined_obj
            if owner is variables:
                return f"undefined variable `vars.{name}`", _vars_hint(name, variables)
            if owner is jinja2.utils.missing:
                return f"undefined name `{name}`", _global_hint(name, variables)
            return _missing_member(owner, name, variables)

        def __str__(self) -> str:
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()  # the sandbox refused an attribute
            message, hint = self.explain()
            recorder.record(message, hint, needle=self._undefined_name or "")
            return ""

        def __getattr__(self, name: str) -> Any:
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()  # `|attr('__mro__')` on a refused attribute
            return super().__getattr__(name)

        def fail(self, *_args: Any, **_kwargs: Any) -> NoReturn:
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()
            raise _Fatal(*self.explain())

        __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = __contains__ = fail
        __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = fail
        __lt__ = __le__ = __gt__ = __ge__ = __int__ = __float__ = fail

    if not recorder.strict:
        return jinja2.ChainableUndefined
    return RecordingUndefined


def _missing_member(owner: Any, name: str, variables: Mapping[str, Any]) -> tuple[str, str]:
    """``vars.a.b`` where ``vars.a`` exists but has no ``b``, in the user's terms."""
    where = _path_to(owner, variables)
    if isinstance(owner, Mapping):
        keys = ", ".join(f"`{k}`" for k in sorted(str(k) for k in owner)[:20]) or "none"
        close = difflib.get_close_matches(name, [str(k) for k in owner], n=1)
        hint = f"did you mean `{where}.{close[0]}`?" if close else f"its keys: {keys}"
        return f"undefined key `{name}` in `{where}`", hint
    kind = _kind(owner)
    return (
        f"`{where}` is {kind}, so it has no key `{name}`",
        f"`{where}.{name}` needs `{where}` to be a mapping with a key `{name}`",
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    return "a value"


def _path_to(target: Any, variables: Mapping[str, Any], limit: int = 10_000) -> str:
    """Where ``target`` sits under ``vars`` (by identity), for a message; "a value" if not found.

    Breadth-first over at most ``limit`` nodes: vars blocks are small, and a
    message needs no more than a best effort."""
    queue: list[tuple[str, Any]] = [("vars", variables)]
    seen = 0
    while queue and seen < limit:
        path, node = queue.pop(0)
        seen += 1
        if node is target:
            return path
        if isinstance(node, Mapping):
            queue.extend((f"{path}.{k}", v) for k, v in node.items())
        elif isinstance(node, list):
            queue.extend((f"{path}[{i}]", v) for i, v in enumerate(node))
    return "a value"


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
    """Raised inside the template to stop rendering (helpers the user misuses, undefined
    values used in a way that cannot go on)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def _bounded_range(*args: int) -> range:
    # The sandbox's own range() allows 100,000 items; far more than a file needs.
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise SecurityError(f"range() of {len(items):,} items; the limit is {MAX_RANGE:,}")
    return items


class _WholeSecret(str):
    """What ``secret(name)`` returns: its placeholder token, usable only whole.

    Printed as it is (``{{ secret('T') }}``, also inside a longer string) it
    becomes the token the loader later replaces by the value. Any other use
    would operate on the token, not the value (``[0:5]`` gave ``"RECON"``,
    ``|replace`` sent token debris to the cloud, ``.startswith()`` was always
    false), so each one stops the file naming its line: the dunder methods
    here catch what Jinja2 evaluates directly (slices, comparisons, ``in``,
    iteration, ``+``), the sandbox hooks the rest (filters, tests, attributes,
    subscripts, operators, ``~``).
    """

    name: str

    def refuse(self, operation: str) -> NoReturn:
        raise _Fatal(
            f"secret('{self.name}') is used whole or not at all: {operation} cannot be applied"
            " to it (it would act on a placeholder, not on the secret's value)",
            f"write `{{{{ secret('{self.name}') }}}}` alone (inside a longer string is fine), and"
            f" put the value already transformed in the environment variable {self.name}",
        )

    def __getitem__(self, key: Any) -> NoReturn:
        self.refuse("a subscript or slice" if not isinstance(key, slice) else "a slice")

    def __add__(self, _other: Any) -> NoReturn:
        self.refuse("`+`")

    def __radd__(self, _other: Any) -> NoReturn:
        self.refuse("`+`")

    def __mul__(self, _other: Any) -> NoReturn:
        self.refuse("`*`")

    __rmul__ = __mul__

    def __mod__(self, _other: Any) -> NoReturn:
        self.refuse("`%`")

    def __rmod__(self, _other: Any) -> NoReturn:
        self.refuse("`%`")

    def __contains__(self, _item: Any) -> NoReturn:
        self.refuse("`in`")

    def __iter__(self) -> NoReturn:
        self.refuse("iteration")

    def __bool__(self) -> NoReturn:
        self.refuse("a truth test (`if`)")

    def _compare(self, _other: Any) -> NoReturn:
        self.refuse("a comparison")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _compare
    __hash__ = str.__hash__


def _whole_secret(token: str, name: str) -> _WholeSecret:
    value = _WholeSecret(token)
    value.name = name
    return value


def _holds_secret(value: Any) -> _WholeSecret | None:
    """The ``secret()`` result in ``value`` (or one level inside a list/tuple/dict)."""
    if isinstance(value, _WholeSecret):
        return value
    if isinstance(value, list | tuple):
        return next((v for v in value if isinstance(v, _WholeSecret)), None)
    if isinstance(value, dict):
        return next((v for v in value.values() if isinstance(v, _WholeSecret)), None)
    return None


def _refusing_secrets(kind: str, name: str, function: Any) -> Any:
    """``function`` (a filter or test), refusing a ``secret()`` among its arguments."""

    @functools.wraps(function)  # keeps Jinja2's pass_context/pass_environment marks
    def refusing(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            found = _holds_secret(value)
            if found is not None:
                found.refuse(f"the {kind} `{name}`")
        return function(*args, **kwargs)

    return refusing


class _CodeGenerator(CodeGenerator):
    """Jinja2's compiler, except that ``~`` goes through ``_Sandbox.bounded_concat``: the
    sandbox has no hook for it, ``a ~ a ~ …`` could join gigabytes, and Jinja2 joins
    the operands with ``str()``, which is exactly what a ``secret()`` must allow when
    printed whole and refuse as a ``~`` operand."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The library's sandbox, plus bounds on what a template may build
    (``template_bounds``): every filter, call, printed value, ``~`` and the
    operators that build big values are checked before they allocate.

    Intercepting the operators also stops Jinja2 from folding them at
    compile time, so ``{{ 'x' * 10**10 }}`` is refused before it allocates.
    """

    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})
    code_generator_class = _CodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=check_printed, **options)
        self.globals["range"] = _bounded_range
        # Every filter and test refuses a secret() (``_WholeSecret``): it would
        # run on the placeholder, not on the value. Outermost, so that a secret is
        # refused before a bound measures it.
        self.filters = {name: _refusing_secrets("filter", name, f)
                        for name, f in bounded_filters(self.filters).items()}
        self.tests = {name: _refusing_secrets("test", name, f) for name, f in self.tests.items()}

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, _WholeSecret):
            obj.refuse(f"`[{argument!r}]`")
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _WholeSecret):
            obj.refuse(f"`.{attribute}`")
        return super().getattr(obj, attribute)

    def call(self, context: jinja2.runtime.Context, obj: Any, /, *args: Any,
             **kwargs: Any) -> Any:
        return super().call(context, obj, *check_call(obj, args, kwargs), **kwargs)

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        for part in parts:
            if isinstance(part, _WholeSecret):
                part.refuse("`~`")
        total = sum(printed_size(part, "a `~` operand") for part in parts)
        if total > MAX_CHARS:
            raise SecurityError(
                f"`~` would build {total:,} characters; the limit is {MAX_CHARS:,}")
        return "".join(map(str, parts))

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        for side in (left, right):
            if isinstance(side, _WholeSecret):
                side.refuse(f"`{operator}`")
        check_binop(operator, left, right)
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and right * left.bit_length() > _MAX_POWER_BITS
        ):
            raise SecurityError(
                f"`{left} ** {right}` is too big; integers are limited to {_MAX_POWER_BITS} bits"
            )
        return super().call_binop(context, operator, left, right)


def _unsupported_tags(tree: nodes.Template, recorder: _Recorder) -> None:
    """``include``/``import``/``extends`` would read other files: each is a problem."""
    for node in tree.find_all(tuple(_UNSUPPORTED_TAGS)):
        tag = _UNSUPPORTED_TAGS[type(node)]
        recorder.problems.append(
            RenderProblem(
                node.lineno,
                recorder.column(node.lineno, "{%"),
                f"`{{% {tag} %}}` is not supported: each desired-state file is rendered on "
                "its own and reads no other file",
                "share values through `vars:`, --var-file or --var, or repeat the YAML",
            )
        )


def render(
    source: str,
    filename: str,
    *,
    variables: Mapping[str, Any],
    environ: Mapping[str, str],
    tokens: SecretTokens,
    strict: bool = True,
    need_secrets: bool = True,
    allowed_env: EnvRule = NO_VARIABLES,
) -> Rendered:
    """Render ``source``. With ``strict=False`` nothing is recorded (the first pass
    that only extracts the file's ``vars:`` block). With ``need_secrets=False``
    (``validate``, which must run in a lint job that has no secrets) an unset
    ``secret()`` is not a problem: its leaf gets ``SECRET_PLACEHOLDER``.
    ``allowed_env``: the variables ``env()`` and ``secret()`` may read."""
    recorder = _Recorder(filename, source.splitlines(), strict)
    secrets: dict[str, SecretUse] = {}

    def env(name: str, default: Any = None) -> Any:
        if not isinstance(name, str):
            _fail("env() takes the variable name as a string")
        # Both checked before reading: the value must not reach the rendered text at all.
        refused = allowed_env.refusal(name, f"env('{name}')")
        if refused is not None:
            recorder.record(*refused, needle=name)
            return ""
        if variable_looks_secret(name):
            recorder.record(
                f"env('{name}') is refused: `{name}` looks like a secret, and env() would put"
                " its value in plans and output in clear",
                f"use secret('{name}') instead: its value is sent but never shown or stored",
                needle=name,
            )
            return ""
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
        refused = allowed_env.refusal(name, f"secret('{name}')")
        if refused is not None:
            recorder.record(*refused, needle=name)
            return ""
        if not strict:
            # Stable across the lenient passes; a secret in `vars:` is rejected by the strict one.
            return "(secret)"
        value = environ.get(name)
        if value is None and not need_secrets:
            value = SECRET_PLACEHOLDER
        if value is None:
            recorder.record(
                f"secret environment variable `{name}` is not set",
                f"export {name}=… before running; its value is never printed",
                needle=name,
            )
        token = tokens.next()
        secrets[token] = SecretUse(token, name, value)
        return _whole_secret(token, name)

    environment = _Sandbox(
        undefined=_undefined_class(recorder, variables),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    environment.globals.update(vars=variables, env=env, secret=secret)
    try:
        tree = environment.parse(source, filename, filename)
        _unsupported_tags(tree, recorder)
        if recorder.problems:
            return Rendered(None, recorder.problems, secrets)
        code = environment.compile(tree, filename, filename)
        template = environment.template_class.from_code(
            environment, code, environment.make_globals(None)
        )
        recorder.template = template
        with _time_limit(MAX_RENDER_SECONDS):
            text = _bounded_output(template, recorder)
    except jinja2.TemplateSyntaxError as err:
        line = err.lineno or 0
        recorder.problems.append(
            RenderProblem(line, recorder.column(line, ""), f"Jinja2 syntax error: {err.message}")
        )
        return Rendered(None, recorder.problems, secrets)
    except Exception as err:  # any error raised while evaluating the template stops this file
        line = err.line if isinstance(err, _TooLong) else _template_line(err, filename, recorder)
        message = _describe(err)
        hint = err.hint if isinstance(err, _Fatal) else ""
        recorder.problems.append(RenderProblem(line, recorder.column(line, ""), message, hint))
        return Rendered(None, recorder.problems, secrets)
    return Rendered(text, recorder.problems, secrets)


class _TooSlow(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the file took more than {seconds:g} s to render; rendering stopped "
            "(a loop over too many items?)"
        )


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_TooSlow`` inside the rendering code once ``seconds`` have passed.

    A SIGALRM timer, so only where signals can be delivered (the main thread of
    a POSIX process: the CLI); elsewhere the other bounds still hold.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def stop(_signum: int, _frame: object) -> None:
        raise _TooSlow(seconds)

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _TooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(
            f"the file renders to more than {MAX_OUTPUT_CHARS:,} characters; rendering stopped"
        )
        self.line = line


def _bounded_output(template: jinja2.Template, recorder: _Recorder) -> str:
    """Render chunk by chunk, stopping once the output passes ``MAX_OUTPUT_CHARS``."""
    chunks: list[str] = []
    size = 0
    generator = template.generate()
    for chunk in generator:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            # The template's own generator is suspended at the line that was producing.
            inner = getattr(generator, "gi_yieldfrom", None)
            frame = getattr(inner, "gi_frame", None)
            line = template.get_corresponding_lineno(frame.f_lineno) if frame else 0
            getattr(generator, "close", lambda: None)()
            raise _TooLong(line)
        chunks.append(chunk)
    return "".join(chunks)


def _fail(message: str) -> NoReturn:
    raise _Fatal(message)


def _describe(err: Exception) -> str:
    if isinstance(err, _Fatal | _TooLong | _TooSlow):
        return str(err)
    if isinstance(err, SecurityError):
        return f"unsafe template: {err}"
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
