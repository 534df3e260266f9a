"""Desired-state files for tests, built from Python data instead of pasted YAML.

``desired_yaml`` writes the same document a user would: ``apiVersion``, the
``defaults`` block, then ``clusters``. Only the data differs between tests,
so they say only the data: which add-ons, at which versions, with which
values. A ``Jinja`` string (see ``secret``) is written double-quoted and left
for the loader's template pass, exactly like a hand-written file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["DEFAULTS", "Jinja", "cluster", "desired_yaml", "secret"]

DEFAULTS: Mapping[str, str] = {
    "region": "ap-southeast-1",
    "project_id": "11112222333344445555666677778888",
    "endpoint": "https://cce.ap-southeast-1.myhuaweicloud.com",
}
"""Where the test scenarios' clusters live (tests/apply/scenario.yaml)."""

Addons = Mapping[str, Mapping[str, Any]]


class Jinja(str):
    """A template expression, kept verbatim in double quotes."""


def secret(name: str) -> Jinja:
    """The ``secret('NAME')`` expression: the value is read from the environment."""
    return Jinja(f"{{{{ secret('{name}') }}}}")


def cluster(cluster_id: str, addons: Addons, **fields: Any) -> dict[str, Any]:
    """One entry of ``clusters:`` (``fields``: any other cluster keys)."""
    return {"cluster_id": cluster_id, **fields, "addons": {k: dict(v) for k, v in addons.items()}}


class _Dumper(yaml.SafeDumper):
    pass


def _jinja(dumper: yaml.SafeDumper, data: Jinja) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(Jinja, _jinja)


def desired_yaml(
    clusters: Mapping[str, Mapping[str, Any]],
    *,
    defaults: Mapping[str, str] = DEFAULTS,
) -> str:
    """The desired-state document for ``clusters`` (name → ``cluster(...)``)."""
    document = {
        "apiVersion": "reconciler/v1",
        "defaults": dict(defaults),
        "clusters": {name: dict(body) for name, body in clusters.items()},
    }
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
