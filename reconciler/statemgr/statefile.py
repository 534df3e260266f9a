"""The state file format: ``StateFile`` ⇄ JSON text. Pure: no I/O.

One JSON object per cluster (``format_version`` 1)::

    {
      "format_version": 1,
      "lineage": "<uuid4>",
      "serial": 3,
      "cluster_name": "prod",
      "cluster_id": "<cce cluster id>",
      "project_id": "<project id>",
      "salt": "<hex>",
      "addons": {
        "coredns": {
          "uid": "...", "version": "1.30.3",
          "values": {...},                  # sensitive leaves already hashed
          "values_digest": "...", "applied_at": "2024-05-01T10:00:00Z",
          "plan_id": "...", "precheck_task_ids": [...],
          "accepted_risks": [...], "sensitive_paths": [...]
        }
      }
    }

The text is canonical (2-space indent, add-ons and value keys sorted, fixed
order elsewhere, trailing newline), so ``to_json(from_json(text)) == text`` for
every file this module wrote. Unknown keys are refused rather than dropped:
silently losing a field on the next write is worse than a clear error.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.masking import register_paths
from reconciler.model.json import DuplicateKeyError, unique_keys
from reconciler.model.state import STATE_FORMAT_VERSION, ManagedAddon, StateFile
from reconciler.statemgr.errors import CorruptStateError, UnsupportedFormatError

__all__ = ["from_json", "new_state", "to_dict", "to_json"]


def new_state(cluster_name: str, cluster_id: str, project_id: str = "") -> StateFile:
    """A fresh state (new lineage, serial 0, random salt); not written yet."""
    return StateFile(
        lineage=str(uuid.uuid4()),
        serial=0,
        cluster_name=cluster_name,
        cluster_id=cluster_id,
        project_id=project_id,
        salt=secrets.token_hex(16),
    )

_TOP_KEYS = (
    "format_version",
    "lineage",
    "serial",
    "cluster_name",
    "cluster_id",
    "project_id",
    "salt",
    "addons",
)
_ADDON_STR_KEYS = ("uid", "version", "values_digest", "applied_at", "plan_id")
_ADDON_LIST_KEYS = ("precheck_task_ids", "accepted_risks", "sensitive_paths")
_ADDON_KEYS = frozenset((*_ADDON_STR_KEYS, "values", *_ADDON_LIST_KEYS))
_OPTIONAL_ADDON_KEYS = frozenset(("plan_id", *_ADDON_LIST_KEYS))
_OPTIONAL_TOP_KEYS = frozenset(("project_id", "salt"))


def to_dict(state: StateFile) -> dict[str, Any]:
    """The JSON document of ``state`` (a fresh, plain ``dict``)."""
    return {
        "format_version": state.format_version,
        "lineage": state.lineage,
        "serial": state.serial,
        "cluster_name": state.cluster_name,
        "cluster_id": state.cluster_id,
        "project_id": state.project_id,
        "salt": state.salt,
        "addons": {name: _addon_to_dict(state.addons[name]) for name in sorted(state.addons)},
    }


def to_json(state: StateFile) -> str:
    """The canonical text of ``state``."""
    return json.dumps(to_dict(state), indent=2, ensure_ascii=False) + "\n"


def from_json(
    data: str | bytes | Mapping[str, Any],
    *,
    source: Path | str = Path("<state>"),
    backup: Path | None = None,
) -> StateFile:
    """Parse and check a state document.

    ``source`` and ``backup`` only feed the error message. Raises
    ``UnsupportedFormatError`` for a newer ``format_version`` and
    ``CorruptStateError`` listing every problem found otherwise.
    """
    if isinstance(data, str | bytes):
        try:
            document = json.loads(data, object_pairs_hook=unique_keys)
        except DuplicateKeyError as exc:
            raise CorruptStateError(source, f"not valid: {exc}", backup=backup) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptStateError(source, f"not valid JSON ({exc})", backup=backup) from exc
    else:
        document = data
    if not isinstance(document, Mapping):
        raise CorruptStateError(source, "the document is not a JSON object", backup=backup)
    version = document.get("format_version")
    if type(version) is int and version > STATE_FORMAT_VERSION:
        raise UnsupportedFormatError(
            source,
            f"format_version {version} was written by a newer reconciler; this one reads"
            f" format_version {STATE_FORMAT_VERSION}; upgrade the reconciler",
            backup=None,
        )
    problems: list[str] = []
    state = _parse_state(document, problems)
    if problems or state is None:
        raise CorruptStateError(source, "; ".join(problems), backup=backup)
    return state


def _addon_to_dict(addon: ManagedAddon) -> dict[str, Any]:
    return {
        "uid": addon.uid,
        "version": addon.version,
        "values": _sorted_json(addon.values),
        "values_digest": addon.values_digest,
        "applied_at": addon.applied_at,
        "plan_id": addon.plan_id,
        "precheck_task_ids": list(addon.precheck_task_ids),
        "accepted_risks": list(addon.accepted_risks),
        "sensitive_paths": list(addon.sensitive_paths),
    }


def _sorted_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _sorted_json(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted_json(item) for item in value]
    return value


def _parse_state(document: Mapping[str, Any], problems: list[str]) -> StateFile | None:
    for key in sorted(set(document) - set(_TOP_KEYS)):
        problems.append(f"unknown key {key!r} (known: {', '.join(_TOP_KEYS)})")
    for key in _TOP_KEYS:
        if key not in document and key not in _OPTIONAL_TOP_KEYS:
            problems.append(f"missing key {key!r}")
    version = document.get("format_version")
    if "format_version" in document and (type(version) is not int or version < 1):
        problems.append(f"format_version must be an integer from 1 to {STATE_FORMAT_VERSION}")
    serial = document.get("serial")
    if "serial" in document and (type(serial) is not int or serial < 0):
        problems.append("serial must be a non-negative integer")
    for key in ("lineage", "cluster_name"):
        if key in document and (not isinstance(document[key], str) or not document[key]):
            problems.append(f"{key} must be a non-empty string")
    for key in ("cluster_id", "project_id", "salt"):
        if key in document and not isinstance(document[key], str):
            problems.append(f"{key} must be a string")
    raw_addons = document.get("addons", {})
    addons: dict[str, ManagedAddon] = {}
    if not isinstance(raw_addons, Mapping):
        problems.append("addons must be an object (add-on name → add-on)")
    else:
        for name, raw in raw_addons.items():
            addon = _parse_addon(str(name), raw, problems)
            if addon is not None:
                addons[addon.name] = addon
    if problems:
        return None
    return StateFile(
        lineage=document["lineage"],
        serial=document["serial"],
        cluster_name=document["cluster_name"],
        cluster_id=document["cluster_id"],
        project_id=document.get("project_id", ""),
        salt=document.get("salt", ""),
        addons=addons,
        format_version=document["format_version"],
    )


def _parse_addon(name: str, raw: Any, problems: list[str]) -> ManagedAddon | None:
    where = f"addons.{name}"
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be an object")
        return None
    before = len(problems)
    for key in sorted(set(raw) - _ADDON_KEYS):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_ADDON_KEYS))})")
    for key in sorted(_ADDON_KEYS - set(raw) - _OPTIONAL_ADDON_KEYS):
        problems.append(f"{where}: missing key {key!r}")
    for key in _ADDON_STR_KEYS:
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{where}.{key} must be a string")
    if "values" in raw and not isinstance(raw["values"], Mapping):
        problems.append(f"{where}.values must be an object")
    for key in _ADDON_LIST_KEYS:
        items = raw.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            problems.append(f"{where}.{key} must be a list of strings")
    if len(problems) > before:
        return None
    addon = ManagedAddon(
        name=name,
        uid=raw["uid"],
        version=raw["version"],
        values=raw["values"],
        values_digest=raw["values_digest"],
        applied_at=raw["applied_at"],
        plan_id=raw.get("plan_id", ""),
        precheck_task_ids=tuple(raw.get("precheck_task_ids", ())),
        accepted_risks=tuple(raw.get("accepted_risks", ())),
        sensitive_paths=tuple(raw.get("sensitive_paths", ())),
    )
    # Every state enters the process here: from now on a live value at a path
    # the state recorded as sensitive is masked in logged bodies (cloud.bodymask),
    # whatever the desired files say now (a PR that dropped its secret()).
    register_paths(name, recorded_sensitive_paths(addon))
    return addon


def recorded_sensitive_paths(addon: ManagedAddon) -> tuple[str, ...]:
    """The value paths the state holds as sensitive for ``addon`` (the one lookup)."""
    return addon.sensitive_paths
