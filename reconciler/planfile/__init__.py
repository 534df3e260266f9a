"""Plan files: the JSON plan codec (``codec``), its schema (``schema``), its
integrity digest (``integrity``) and saving/loading plan files (``files``).

It sits below ``views`` (the human renderings are built from this JSON) and
needs only ``model``; callers import the public names from here.
"""

from __future__ import annotations

from reconciler.planfile.codec import dumps_plan_json, plan_from_json, plan_to_json
from reconciler.planfile.files import (
    PlanFileError,
    load_plan,
    load_plan_with_digest,
    looks_like_plan_file,
    save_plan,
)
from reconciler.planfile.integrity import plan_digest

__all__ = [
    "PlanFileError",
    "dumps_plan_json",
    "load_plan",
    "load_plan_with_digest",
    "looks_like_plan_file",
    "plan_digest",
    "plan_from_json",
    "plan_to_json",
    "save_plan",
]
