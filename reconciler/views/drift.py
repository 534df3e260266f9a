"""Drift report views: one entry point over the canonical JSON report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.views.driftjson import dumps_drift_json
from reconciler.views.driftmarkdown import render_drift_markdown
from reconciler.views.driftprom import render_drift_prometheus
from reconciler.views.drifttext import render_drift_text

__all__ = ["DRIFT_FORMATS", "render_drift"]

DRIFT_FORMATS = ("text", "markdown", "json", "prometheus")


def render_drift(report_json: Mapping[str, Any], fmt: str, *, color: bool = False) -> str:
    """Render a canonical drift report (``drift_to_json``); no trailing newline.
    ``color`` applies to ``text`` only."""
    if fmt == "text":
        return render_drift_text(report_json, color=color)
    if fmt == "markdown":
        return render_drift_markdown(report_json)
    if fmt == "json":
        return dumps_drift_json(report_json)
    if fmt == "prometheus":
        return render_drift_prometheus(report_json)
    raise ValueError(f"unknown drift format {fmt!r} (valid: {', '.join(DRIFT_FORMATS)})")
