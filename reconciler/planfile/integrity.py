"""The integrity digest of a JSON plan (issue 9; docs/plan-json.md "Integrity digest").

Kept apart from the codec, which seals a plan with it, and from the file
loader, which checks it: both must compute the very same bytes, so there is
one definition of the canonical form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CHANGED_AFTER_WRITTEN", "digest_problem", "plan_digest"]

CHANGED_AFTER_WRITTEN = "the plan file was changed after it was written"


def plan_digest(plan_json: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of the plan without ``digest``:
    sorted keys, no whitespace, UTF-8. Detects any edit or corruption of a
    saved plan (not a forgery: anyone can recompute it; see docs/plan-json.md)."""
    body = {k: v for k, v in plan_json.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_problem(plan_json: Mapping[str, Any], *, format_version: int) -> str | None:
    """Why a plan of ``format_version`` fails its digest check, or ``None``.

    Only a document that claims the current version is checked here: an older
    or unknown version is refused by the codec with a clearer message (an old
    plan never had a digest, so "missing digest" would mislead).
    """
    if plan_json.get("format_version") != format_version:
        return None
    digest = plan_json.get("digest")
    if digest is None:
        if "plan_id" not in plan_json:
            return None  # not shaped like a plan: let the schema say what is wrong
        return "the plan has no digest, so it can't be checked: re-run `reconciler plan --out`"
    if digest != plan_digest(plan_json):
        return (
            f"{CHANGED_AFTER_WRITTEN} (its digest no longer matches its content):"
            " re-run `reconciler plan --out`, review, and apply the new plan"
        )
    return None
