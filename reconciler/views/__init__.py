"""Views: every piece of text a user or a machine reads about a plan.

The canonical JSON plan (``reconciler.planfile.codec``) is the source of every rendering; the
text and Markdown views read it, never the ``Plan`` objects, so the human and
machine forms can't disagree (as in Terraform's ``jsonformat``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.planfile.codec import dumps_plan_json
from reconciler.policy import resource_changes
from reconciler.views.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.views.text import render_text

__all__ = ["FORMATS", "GITHUB_COMMENT_LIMIT", "render_plan"]

FORMATS = ("text", "markdown", "json")


def render_plan(
    plan_json: Mapping[str, Any],
    fmt: str,
    *,
    color: bool = False,
    show_provenance: bool = False,
    max_chars: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """Render a canonical JSON plan (``plan_to_json``) as ``text``, ``markdown`` or ``json``.

    The result ends with one newline (print it with ``nl=False``). ``color``
    adds ANSI styles to ``text`` only; ``max_chars`` bounds ``markdown`` only.
    """
    if fmt == "text":
        body = render_text(plan_json, color=color, show_provenance=show_provenance)
    elif fmt == "markdown":
        body = render_markdown(plan_json, show_provenance=show_provenance, max_chars=max_chars)
    elif fmt == "json":
        # Terraform's shape beside ours, so `conftest test` reads it unchanged
        # (docs/policy.md); not part of the saved plan or its digest.
        body = dumps_plan_json({**plan_json, "resource_changes": resource_changes(plan_json)})
    else:
        raise ValueError(f"unknown plan format {fmt!r} (valid: {', '.join(FORMATS)})")
    return body + "\n"
