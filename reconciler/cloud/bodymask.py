"""Before a request or response body is logged, its sensitive values join the redactor.

``-vv`` and ``--log-file`` log whole bodies: a PUT carries every desired value,
a GET of the add-ons every live one, the old value of a rotated secret
included. The redactor masks literals it knows; this module teaches it the
values found at a sensitive place in a body, by path and by key name, just
before the body is written:

- any string under a key that names a credential (``password``,
  ``db_password``, ``token``…, ``model.sensitive.is_secret_word``), anywhere
  in the body;
- in an add-on's ``values`` (an instance's ``spec``, a precheck entry: a map
  with ``addonTemplateName`` and ``values``), any string at or under a path
  registered as sensitive for that add-on (``masking.register_paths``: the
  desired ``secret()`` and ``sensitive:`` paths, the state's recorded ones).

Registered values stay masked for the rest of the run, on every channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.masking import register, sensitive_paths
from reconciler.model.sensitive import is_secret_word
from reconciler.model.valuepaths import covered_by_any, leaves

__all__ = ["register_body_secrets"]


def register_body_secrets(body: Any) -> None:
    """Register with the redactor every string of ``body`` (decoded JSON) at a
    sensitive place (see the module)."""
    found: list[str] = []
    _walk(body, False, found)
    register(found)


def _walk(node: Any, secret_key: bool, found: list[str]) -> None:
    if isinstance(node, str):
        if secret_key:
            found.append(node)
        return
    if isinstance(node, Mapping):
        name = node.get("addonTemplateName")
        values = node.get("values")
        if isinstance(name, str) and isinstance(values, Mapping):
            _at_paths(values, sensitive_paths(name), found)
        for key, child in node.items():
            _walk(child, secret_key or is_secret_word(str(key)), found)
    elif isinstance(node, list):
        for child in node:
            _walk(child, secret_key, found)


def _at_paths(values: Mapping[str, Any], paths: frozenset[str], found: list[str]) -> None:
    if not paths:
        return
    found.extend(node for path, node in leaves(values)
                 if isinstance(node, str) and covered_by_any(path, paths))
