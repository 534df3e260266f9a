"""One parsed desired-state file and how to point a diagnostic into it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.config.linemap import LineMap
from reconciler.config.render import SecretUse
from reconciler.config.yamlnodes import KeyPath, NodeFinder, Position, position_of
from reconciler.model.diagnostics import Diagnostic, Severity

__all__ = ["SourceFile", "dotted"]


def dotted(path: KeyPath) -> str:
    """``("clusters", "prod", "addons", "x", "depends_on", 0)``
    → ``clusters.prod.addons.x.depends_on[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass
class SourceFile:
    path: str
    """As the user gave it (diagnostics show this)."""
    source: str
    rendered: str
    root: yaml.Node | None
    data: Any
    secrets: dict[str, SecretUse]
    token_pattern: re.Pattern[str]
    linemap: LineMap = field(init=False)
    nodes: NodeFinder = field(init=False)

    def __post_init__(self) -> None:
        self.linemap = LineMap(self.source, self.rendered)
        self.nodes = NodeFinder(self.root)

    def redact(self, text: str) -> str:
        """Show placeholder tokens as the ``secret('NAME')`` call that made them."""

        def name_of(match: re.Match[str]) -> str:
            use = self.secrets.get(match.group(0))
            return f"secret('{use.name}')" if use else "secret(…)"

        return self.token_pattern.sub(name_of, text)

    def diagnostic(
        self,
        path: KeyPath,
        message: str,
        hint: str = "",
        *,
        at_value: bool = False,
        severity: Severity = Severity.ERROR,
    ) -> Diagnostic:
        """A diagnostic placed at the key (or, with ``at_value``, the value) of ``path``."""
        key_node, value_node = self.nodes.find(path)
        node = value_node if at_value or key_node is None else key_node
        at = position_of(node) if node is not None else None
        return self.diagnostic_at(at, path, message, hint, severity=severity)

    def diagnostic_at(
        self,
        at: Position | None,
        path: KeyPath,
        message: str,
        hint: str = "",
        *,
        severity: Severity = Severity.ERROR,
    ) -> Diagnostic:
        """A diagnostic at a position of the rendered text, mapped to the source."""
        line = column = 0
        if at is not None:
            mapped = self.linemap.source_position(at.line, at.column)
            line, column = mapped.line, mapped.column
            if not mapped.exact:
                message += (
                    f" [position approximate: Jinja2 block tags move lines; this is line "
                    f"{mapped.rendered_line} of the rendered file]"
                )
        return Diagnostic(
            self.path,
            line,
            column,
            self.redact(dotted(path)),  # a key path may hold a misplaced secret() token
            self.redact(message),
            self.redact(hint),
            severity,
        )

    def raw_scalar(self, path: KeyPath) -> str | None:
        """The text of a scalar as written (``1.30``, where YAML read the float 1.3)."""
        _, node = self.nodes.find(path)
        if isinstance(node, yaml.ScalarNode):
            return self.redact(str(node.value))
        return None
