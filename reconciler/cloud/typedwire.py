"""The add-on list decoded straight into what the live model needs.

Why: a plan's biggest responses are the add-on lists, and most of their bytes
(``status.currentVersion`` repeats the template version's whole ``input``)
are never read. msgspec decodes into typed structs that name only the fields
:func:`~reconciler.cloud.wire.parse_instance` reads and skips the rest without
building it: 3-4x faster than decoding everything and then picking.

The tolerant reader stays the authority: anything this strict shape refuses
(``items`` as one object, a number where a string was expected, a spelling
from the documentation's examples) returns None and the caller parses the
same bytes with :mod:`~reconciler.cloud.wire`. Both give equal instances
(tests/cloud/test_typedwire.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from reconciler.model.json import JSON
from reconciler.model.live import AddonInstance, InstanceStatus

__all__ = ["decode_instances"]


class _Version(msgspec.Struct, frozen=True):
    version: str | None = None


class _Metadata(msgspec.Struct, frozen=True):
    uid: str | None = None
    name: str | None = None
    creationTimestamp: str | None = None
    creationTimeStamp: str | None = None
    updateTimestamp: str | None = None
    updateTimeStamp: str | None = None


class _Spec(msgspec.Struct, frozen=True):
    clusterID: str | None = None
    addonTemplateName: str | None = None
    version: str | None = None
    values: dict[str, Any] | None = None


class _Status(msgspec.Struct, frozen=True):
    status: str | None = None
    Reason: str | None = None
    reason: str | None = None
    message: str | None = None
    currentVersion: _Version | str | None = None
    targetVersions: list[str | None] | None = None
    isRollbackable: Any = None
    previousVersion: str | None = None


_EMPTY_METADATA = _Metadata()
_EMPTY_SPEC = _Spec()
_EMPTY_STATUS = _Status()


class _Item(msgspec.Struct, frozen=True):
    metadata: _Metadata | None = None
    spec: _Spec | None = None
    status: _Status | None = None


class _List(msgspec.Struct, frozen=True):
    items: list[_Item] | None = None


_DECODER = msgspec.json.Decoder(_List)


def decode_instances(body: bytes,
                     share: Callable[[JSON], JSON]) -> list[AddonInstance] | None:
    """The instances of an add-on list response, each values tree passed
    through ``share`` (the session's interner); None when the body is not of
    the strict shape (then the tolerant reader parses it)."""
    try:
        decoded = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    instances: list[AddonInstance] = []
    for item in decoded.items or ():
        meta = item.metadata or _EMPTY_METADATA
        spec = item.spec or _EMPTY_SPEC
        status = item.status or _EMPTY_STATUS
        current = status.currentVersion
        if isinstance(current, _Version):
            current = current.version or None
        targets = status.targetVersions
        reason = status.Reason if status.Reason is not None else status.reason
        created = meta.creationTimestamp if meta.creationTimestamp is not None \
            else meta.creationTimeStamp
        updated = meta.updateTimestamp if meta.updateTimestamp is not None \
            else meta.updateTimeStamp
        tree = share(spec.values) if spec.values is not None else {}
        instances.append(AddonInstance(
            uid=meta.uid or "",
            name=meta.name or "",
            cluster_id=spec.clusterID or "",
            template_name=spec.addonTemplateName or "",
            version=spec.version or "",
            values=tree,  # a JSON object (share keeps the type)
            status=InstanceStatus(
                status=status.status or "",
                reason=reason or "",
                message=status.message or "",
                current_version=current or None,
                target_versions=None if targets is None
                else tuple(t for t in targets if t is not None),
                is_rollbackable=status.isRollbackable is True,
                previous_version=status.previousVersion or "",
            ),
            created_at=created or "",
            updated_at=updated or "",
        ))
    return instances
