"""JSON Schemas of an add-on's values, built from its template (pure: no I/O).

For editors (``reconciler schema --addon NAME``; yaml-language-server
completes and checks ``values`` with it) and for anyone who wants to know
what a template takes. The schema says what plan accepts, no more and no
less:

- keys: those of the template defaults (engine/valuekeys.py), closed
  (``additionalProperties: false``) except below an empty map or a
  placeholder (``null``, ``""``), and inside lists, where the template shows
  an example rather than a closed set;
- types: the default's type, with the spellings plan normalises to it
  (engine/normalise.py): ``"50"`` for a number, ``"true"`` for a boolean, a
  number or a boolean for a string;
- ``default``: the template default; ``enum``: the flavor preset names
  (``flavor.name`` and the add-on's ``flavor:`` key).

For several versions (the desired-state schema knows no version), the keys
of every version are merged, newest winning: a file valid for any version
validates; plan still checks the exact version it resolves to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.engine.checks import version_key
from reconciler.engine.values import template_defaults
from reconciler.model.json import JSON
from reconciler.model.live import AddonTemplate, TemplateVersion

__all__ = ["addon_block_schema", "desired_state_with_values", "values_schema"]

_NUMBER_TEXT = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_BOOLEAN_TEXT = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"


def values_schema(versions: Iterable[TemplateVersion], title: str = "") -> dict[str, JSON]:
    """The schema of ``values`` for these versions of one template (oldest
    first: later ones win where their defaults differ)."""
    merged: dict[str, JSON] = {}
    presets: list[str] = []
    for version in versions:
        _deep_merge(merged, template_defaults(version, None))
        presets += [name for name in version.flavors if name not in presets]
    schema = _node(merged)
    schema.pop("default", None)
    if title:
        schema["title"] = title
    flavor = schema.get("properties", {}).get("flavor")
    if presets and isinstance(flavor, dict) and "name" in flavor.get("properties", {}):
        flavor["properties"]["name"] = {
            "description": "flavor preset name (or choose one with the add-on's `flavor:` key)",
            "enum": [*presets, *(int(p) for p in presets if p.isdigit())],
        }
    return schema


def addon_block_schema(template: AddonTemplate) -> dict[str, JSON]:
    """What the desired-state schema adds to the add-on block of ``template``:
    its ``values`` and its ``flavor:`` names."""
    ordered = sorted(template.versions, key=lambda v: version_key(v.version))
    block: dict[str, JSON] = {
        "values": values_schema(ordered, f"values of {template.name}"),
    }
    presets = list(dict.fromkeys(name for v in ordered for name in v.flavors))
    if presets:
        block["flavor"] = {"enum": [*presets, *(int(p) for p in presets if p.isdigit())]}
    block["version"] = {"examples": [v.version for v in reversed(ordered)]}
    return {"properties": block}


def desired_state_with_values(base: Mapping[str, JSON],
                              templates: Mapping[str, AddonTemplate]) -> dict[str, JSON]:
    """The desired-state schema ``base`` with each template's add-on block
    schema: ``addons.NAME`` must be an add-on block and fit its template."""
    schema = dict(base)
    defs = dict(schema["$defs"])
    addons = dict(defs["addons"])
    addons["properties"] = {
        name: {"allOf": [{"$ref": "#/$defs/addon"}, addon_block_schema(templates[name])]}
        for name in sorted(templates)
    }
    defs["addons"] = addons
    schema["$defs"] = defs
    return schema


def _node(default: JSON) -> dict[str, JSON]:
    if isinstance(default, Mapping):
        if not default:
            return {"type": "object", "description": "any keys (the template's default is empty)"}
        return {
            "type": "object",
            "properties": {str(k): _node(v) for k, v in default.items()},
            "additionalProperties": False,
        }
    if isinstance(default, list | tuple):
        schema: dict[str, JSON] = {"type": "array", "default": list(default)}
        if default and isinstance(default[0], Mapping):
            schema["items"] = {"type": "object"}  # an example item, not a closed set
        elif default:
            schema["items"] = _scalar(default[0], with_default=False)
        return schema
    if default is None or default == "":
        return {"default": default} if default == "" else {}
    return _scalar(default)


def _scalar(default: JSON, with_default: bool = True) -> dict[str, JSON]:
    schema: dict[str, JSON]
    if isinstance(default, bool):
        schema = {"type": ["boolean", "string"], "pattern": _BOOLEAN_TEXT}
    elif isinstance(default, int | float):
        schema = {"type": ["number", "string"], "pattern": _NUMBER_TEXT}
    elif isinstance(default, str):
        schema = {"type": ["string", "number", "boolean"]}
    else:
        schema = {}
    if with_default:
        schema["default"] = default
    return schema


def _deep_merge(dst: dict[str, JSON], src: Mapping[str, JSON]) -> None:
    for key, value in src.items():
        if isinstance(value, Mapping) and isinstance(dst.get(key), dict) and value:
            _deep_merge(dst[key], value)
        elif isinstance(value, Mapping):
            existing = dst.get(key)
            if not (isinstance(existing, dict) and existing):
                dst[key] = dict(value)
        else:
            dst[key] = value

