"""What a template may build, checked before it is built.

The output limit (``render.MAX_OUTPUT_CHARS``) only counts what a file
prints; a filter or method can allocate gigabytes before anything is printed
(``'%300000000d'|format(1)``, ``'x'|center(300000000)``,
``(('a' * 10000000)|list)|sort``). So every value the sandbox hands to a
filter, a method, a macro or an operator, and every value it prints, is held
to two bounds:

- ``MAX_CHARS`` characters (a string, or a container counted through its
  items, as it would print);
- ``MAX_ITEMS`` items (a list, a mapping, or a string turned into items).

and every operation whose result can be much bigger than its inputs (widths,
paddings, ``%``/``{}`` formats, ``replace``, ``join``, ``indent``,
``wordwrap``, ``tojson`` indents, ``split``, ``lipsum``, ``*``, ``+``) has its
result size computed from the arguments first. Either bound refused is a
``SecurityError``, which rendering reports as one "unsafe template" problem
at the template line. An operation's result may exceed the bounds by a small
factor (``escape`` makes ``&`` five characters), but the next operation that
receives it refuses it, so memory stays within a small multiple of the limit.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sized
from typing import Any, NoReturn

from jinja2.exceptions import SecurityError
from jinja2.utils import generate_lorem_ipsum

__all__ = [
    "MAX_CHARS",
    "MAX_ITEMS",
    "bounded_filters",
    "check_binop",
    "check_call",
    "check_printed",
    "printed_size",
]

MAX_CHARS = 10 * 1024 * 1024
"""Characters of any value a template builds (and of its whole output)."""
MAX_ITEMS = 100_000
"""Items of any list or mapping a template builds (a real file handles dozens)."""
_MAX_NODES = 10 * MAX_ITEMS
"""Values (items, keys, nested) a printed value may hold in all."""
_MAX_INT_BITS = 4096
"""Bits of an integer ``*`` may build (as for ``**`` in ``render``)."""
_SCALAR_CHARS = 24
"""What a number, boolean or null counts for in a printed size (an upper bound)."""
_LOREM_CHARS = 1_000
"""Characters one ``lipsum()`` paragraph may take (at most 100 words of up to 10)."""
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


def _number(text: str) -> int:
    """A width written in a format; a number too long to convert is simply too big."""
    return int(text) if len(text) <= 12 else MAX_CHARS * 1000


def printed_size(value: Any, what: str = "a value") -> int:
    """Characters ``value`` prints as (an upper bound), refusing a value past either
    bound. Walks containers without building their text; stops at the first bound."""
    chars = 0
    nodes = 0
    pending = [value]
    while pending:
        item = pending.pop()
        nodes += 1
        if isinstance(item, str | bytes):
            chars += len(item) + 4  # quotes and a separator when inside a container
        elif isinstance(item, Mapping):
            chars += 2
            nodes += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            chars += 2
            pending.extend(item)
        else:
            chars += _SCALAR_CHARS
        if nodes > _MAX_NODES:
            _refuse(f"{what} holds more than {_MAX_NODES:,} values; the limit is {_MAX_NODES:,}")
        if chars > MAX_CHARS + 4:
            _refuse(f"{what} is more than {MAX_CHARS:,} characters long; "
                    f"the limit is {MAX_CHARS:,}")
    return chars


def _shallow(value: Any, what: str) -> None:
    """The size of ``value`` itself, in constant time (its items are checked
    wherever they are printed or turned into text)."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_CHARS:
            _refuse(f"{what} is {len(value):,} characters long; the limit is {MAX_CHARS:,}")
    elif isinstance(value, Mapping | list | tuple | set | frozenset) and len(value) > MAX_ITEMS:
        _refuse(f"{what} has {len(value):,} items; the limit is {MAX_ITEMS:,}")


def check_printed(value: Any) -> Any:
    """The sandbox's ``finalize``: a value about to be printed is within bounds."""
    printed_size(value, "a printed value")
    return value


def _check_result(size: int, what: str, unit: str = "characters") -> None:
    limit = MAX_CHARS if unit == "characters" else MAX_ITEMS
    if size > limit:
        _refuse(f"{what} would build {size:,} {unit}; the limit is {limit:,}")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool):
        _check_result(width, f"`{what}({width})`")


def _check_percent(fmt: str, args: Any) -> None:
    """``fmt % args``: each width and precision counts, ``*`` ones from the arguments."""
    total = len(fmt)
    star = False
    for match in _PERCENT.finditer(fmt):
        for group in match.group(1, 2):
            if group == "*":
                star = True
            elif group:
                total += _number(group)
    values = args if isinstance(args, tuple) else (args,)
    if star:
        total += sum(abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool))
    total += sum(printed_size(v, "a format argument") for v in values)
    _check_result(total, "the format")


def _check_brace_format(fmt: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    """``fmt.format(...)``: widths in the specs (nested ``{}`` ones from the arguments)."""
    values = [*args, *kwargs.values()]
    total = len(fmt) + sum(printed_size(v, "a format argument") for v in values)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # the call itself raises the same error
    for _literal, _name, spec, _conversion in fields:
        if not spec:
            continue
        total += sum(_number(d) for d in _DIGITS.findall(spec))
        if "{" in spec:
            total += sum(abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool))
    _check_result(total, "the format")


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    _check_result(len(text) + times * (len(new) - len(old)), "`replace()`")


def _check_join(items: Any, separator: Any) -> None:
    if not isinstance(items, Sized) or not isinstance(separator, str):
        return
    size = printed_size(items, "the joined value") + len(separator) * len(items)
    _check_result(size, "`join()`")


def _check_pieces(text: str, separator: Any) -> None:
    if isinstance(separator, str) and separator:
        pieces = text.count(separator) + 1
    else:  # whitespace: a run of it is one cut at most
        pieces = sum(text.count(c) for c in " \t\n\r\x0b\x0c") + 1
    _check_result(pieces, "`split()`", "items")


def _bounded_list(values: Iterable[Any]) -> list[Any]:
    """A generator (``map``, ``select``…) drained no further than the bounds."""
    items: list[Any] = []
    chars = 0
    for value in values:
        items.append(value)
        chars += len(value) if isinstance(value, str) else 0
        if len(items) > MAX_ITEMS:
            _refuse(f"the sequence has more than {MAX_ITEMS:,} items; the limit is {MAX_ITEMS:,}")
        if chars > MAX_CHARS:
            _refuse(f"the sequence holds more than {MAX_CHARS:,} characters; "
                    f"the limit is {MAX_CHARS:,}")
    return items


def _check_items(value: Any, what: str) -> None:
    """A filter that turns ``value`` into a list: a string gives one item per character."""
    if isinstance(value, Sized) and len(value) > MAX_ITEMS:
        _check_result(len(value), f"`{what}`", "items")


# Filters that only reorder, pick or count: their arguments' own size is checked,
# not walked (``vars.clusters|length`` in a loop stays cheap). Every other filter
# may turn its input into text, so a container is measured as it would print.
_SHAPE_ONLY = frozenset({"length", "count", "first", "last", "min", "max", "sum", "sort",
                         "unique", "reverse", "list", "batch", "slice", "map", "select",
                         "reject", "selectattr", "rejectattr", "groupby", "dictsort", "items",
                         "random", "default", "d", "attr", "bool", "int", "float", "abs",
                         "round", "filesizeformat"})
# Filters that materialise their input: a generator is drained with bounds first.
_MATERIALISING = frozenset({"list", "sort", "reverse", "slice", "join", "groupby", "unique",
                            "batch", "random", "last", "dictsort", "sum", "min", "max"})


def _check_filter(name: str, arguments: dict[str, Any]) -> None:
    value = next(iter(arguments.values()), None)
    if name == "format" and isinstance(value, str):
        args, kwargs = arguments.get("args", ()), arguments.get("kwargs", {})
        _check_percent(value, kwargs if kwargs else tuple(args))
    elif name == "center":
        _check_width(arguments.get("width"), "center")
    elif name == "indent" and isinstance(value, str):
        width = arguments.get("width", 4)
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_result(len(value) + (value.count("\n") + 1) * pad, "`indent()`")
    elif name == "wordwrap" and isinstance(value, str):
        width = arguments.get("width", 79)
        wrap = arguments.get("wrapstring") or "\n"
        lines = value.count("\n") + 1 + len(value) // max(width if isinstance(width, int) else 1, 1)
        _check_result(lines, "`wordwrap()`", "lines")
        _check_result(len(value) + lines * len(str(wrap)), "`wordwrap()`")
    elif name == "replace":
        _check_replace(value, arguments.get("old"), arguments.get("new"), arguments.get("count"))
    elif name == "join":
        _check_join(value, arguments.get("d", ""))
    elif name == "slice":
        _check_result(_int(arguments.get("slices")), "`slice()`", "items")
    elif name == "batch" and arguments.get("fill_with") is not None:
        _check_result(_int(arguments.get("linecount")), "`batch()`", "items")
    elif name == "tojson":
        indent = arguments.get("indent")
        if isinstance(indent, int) and indent > 1:
            _check_result(len(json.dumps(value, indent=1, default=str)) * indent, "`tojson()`")
    if name in _MATERIALISING and not (name == "reverse" and isinstance(value, str)):
        _check_items(value, name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter, wrapped: arguments within bounds, result size checked first."""
    return {name: _bounded(name, func) for name, func in filters.items()}


def _bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    inner = inspect.unwrap(func)
    try:
        signature = inspect.signature(inner)
    except (TypeError, ValueError):
        return func
    materialises = name in _MATERIALISING
    measure = _shallow if name in _SHAPE_ONLY else printed_size
    # The first argument may be Jinja2's context/environment (``@pass_context``); an
    # async-capable filter's wrapper takes one that the function inside does not.
    passed = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    inner_passed = 1 if getattr(inner, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if materialises and len(args) > passed and _is_lazy(args[passed]):
            args = (*args[:passed], _bounded_list(args[passed]), *args[passed + 1:])
        for value in (*args[passed:], *kwargs.values()):
            measure(value, f"the input of `{name}`")
        try:
            bound = signature.bind(*(args if inner_passed else args[passed:]), **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # the filter reports its own misuse
        arguments = dict(bound.arguments)
        for key in list(arguments)[:inner_passed]:
            del arguments[key]
        _check_filter(name, arguments)
        return func(*args, **kwargs)

    return wrapper


def _is_lazy(value: Any) -> bool:
    return not isinstance(value, Sized) and isinstance(value, Iterable)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """``*``, ``+`` and ``%`` of the sandbox, before they run."""
    if operator == "*":
        if _is_int(left) and _is_int(right) and (
                abs(left).bit_length() + abs(right).bit_length() > _MAX_INT_BITS):
            # Repeated squaring (a recursive macro) doubles the digits every step.
            _refuse(f"`*` of integers of {abs(left).bit_length():,} and "
                    f"{abs(right).bit_length():,} bits; integers are limited to "
                    f"{_MAX_INT_BITS} bits")
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                limit = MAX_CHARS if isinstance(sequence, str) else MAX_ITEMS
                size = len(sequence) * times
                if size > limit:
                    _refuse(f"`* {times}` would build a value of {size:,} items; the limit is "
                            f"{limit:,}")
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            _check_result(len(left) + len(right), "`+`")
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            _check_result(len(left) + len(right), "`+`", "items")
    elif operator == "%" and isinstance(left, str):
        _check_percent(left, right)


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """A call from the template (a method, a global, a macro): arguments within
    bounds and the result size of a growing string method checked; returns the
    arguments to call with (a generator ``str.join`` would drain is bounded)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if isinstance(owner, str) and name == "join" and args and _is_lazy(args[0]):
        args = (_bounded_list(args[0]), *args[1:])
    # A method of a string turns its arguments into text; a macro or global prints
    # (and so measures) whatever it makes of them.
    measure = printed_size if isinstance(owner, str) else _shallow
    for value in (*args, *kwargs.values()):
        measure(value, "an argument")
    if isinstance(owner, str):
        _check_str_method(owner, name, args, kwargs)
    elif target is generate_lorem_ipsum:
        paragraphs = args[0] if args else kwargs.get("n", 5)
        _check_result(_int(paragraphs) * _LOREM_CHARS, "`lipsum()`")
    return args


def _check_str_method(text: str, name: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> None:
    first = args[0] if args else None
    if name in _WIDTH_METHODS:
        _check_width(first if first is not None else kwargs.get("width"), name)
    elif name == "expandtabs":
        size = _int(first if first is not None else kwargs.get("tabsize", 8))
        _check_result(len(text) + text.count("\t") * size, "`expandtabs()`")
    elif name in ("format", "format_map"):
        mapping = first if name == "format_map" and isinstance(first, Mapping) else kwargs
        _check_brace_format(text, args if name == "format" else (), mapping)
    elif name == "join" and first is not None:
        _check_join(first, text)
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name in ("split", "rsplit"):
        _check_pieces(text, first if first is not None else kwargs.get("sep"))
    elif name == "splitlines":
        _check_pieces(text, "\n")
