"""The saved-plan form of a leaf that came from ``secret()``: a template.

``"Bearer {{ secret('T') }}"`` renders a leaf ``"Bearer <value of T>"``. A saved
plan must not hold the value, yet apply must send exactly that leaf, so the
plan keeps ``"Bearer ${T}"`` (every literal ``$`` written ``$$``) next to the
leaf's salted hash. Apply fills the template from the re-read secrets and
checks the result against the hash. The literal parts are the committed desired
file's own text, so the template reveals nothing the repository doesn't.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = [
    "PLACEHOLDER_PREFIX",
    "fill_template",
    "holds_placeholder",
    "secret_template",
    "template_names",
]

_PART = re.compile(r"\$\$|\$\{([^}]*)\}")

PLACEHOLDER_PREFIX = "RECONCILERSECRET"
"""How every ``secret()`` placeholder token begins (``config.render.SecretTokens``).

A token stands in for a secret while a file is rendered and parsed; the loader
then puts the value in its place. One left in a value sent to the cloud would
be a bug (a secret transformed, a path the loader missed): the send boundary
refuses such a body (``holds_placeholder``)."""

_PLACEHOLDER = re.compile(PLACEHOLDER_PREFIX + r"[0-9A-Z]*N[0-9]+Z", re.IGNORECASE)


def holds_placeholder(text: str) -> bool:
    """True when ``text`` holds a ``secret()`` placeholder token, in any letter case."""
    return _PLACEHOLDER.search(text) is not None


def secret_template(text: str, tokens: re.Pattern[str], name_of: Callable[[str], str]) -> str:
    """``text`` (with placeholder tokens) as a template: each token → ``${NAME}``."""
    parts: list[str] = []
    last = 0
    for match in tokens.finditer(text):
        parts.append(text[last:match.start()].replace("$", "$$"))
        parts.append("${" + name_of(match.group(0)) + "}")
        last = match.end()
    parts.append(text[last:].replace("$", "$$"))
    return "".join(parts)


def template_names(template: str) -> tuple[str, ...]:
    """The secret names a template reads, in order, each once."""
    return tuple(dict.fromkeys(m.group(1) for m in _PART.finditer(template) if m.group(1)))


def fill_template(template: str, secrets: Mapping[str, str]) -> str:
    """The leaf a template stands for; every name must be in ``secrets``."""
    return _PART.sub(lambda m: "$" if m.group(1) is None else secrets[m.group(1)], template)
