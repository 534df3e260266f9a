"""Desired-state files: Jinja2 render → YAML (with positions) → JSON Schema → semantic checks.

``load_desired`` is the one entry point; it returns a ``DesiredState`` or
raises ``InputError`` carrying every problem found, each with file, line,
column, key path, what is wrong and what would be valid.
"""

from __future__ import annotations

from reconciler.config.loader import load_desired
from reconciler.config.schemacheck import schema_text

__all__ = ["load_desired", "schema_text"]
