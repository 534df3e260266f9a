"""The CCE add-on API, one async method per endpoint, typed results.

Get one from :meth:`CloudSession.client`; all clients of a session share its
connection pool, concurrency cap, rate limit and retry policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.cloud.errors import CloudError
from reconciler.cloud.reply import decode_json
from reconciler.cloud.sender import ApiRequest, Sender, path
from reconciler.cloud.typedwire import decode_instances
from reconciler.cloud.wire import (
    PrecheckItem,
    addon_precheck_body,
    cluster_precheck_body,
    instance_body,
    parse_addon_task,
    parse_cluster,
    parse_cluster_task,
    parse_instance,
    parse_template,
    precheck_tasks_of_create,
)
from reconciler.cloud.wire import items as wire_items
from reconciler.kit.signing import QueryValue
from reconciler.model.json import JSON
from reconciler.model.live import (
    AddonInstance,
    AddonPrecheckTask,
    AddonTemplate,
    Cluster,
    ClusterPrecheckTask,
)

__all__ = ["CceClient"]

_ADDONS = "/api/v3/addons"
_CLUSTERS = "/api/v3/projects/{project_id}/clusters"
_CLUSTER = _CLUSTERS + "/{cluster_id}"


def _object(body: JSON, request: ApiRequest) -> Mapping[str, JSON]:
    if not isinstance(body, Mapping):
        raise CloudError(
            f"expected a JSON object, got {type(body).__name__}",
            method=request.method,
            path=request.path,
        )
    return body


class CceClient:
    """CCE add-on and cluster calls for one endpoint, project and region."""

    def __init__(self, sender: Sender, *, endpoint: str, region: str) -> None:
        self._sender = sender
        self.endpoint = endpoint
        self.region = region

    @property
    def project_id(self) -> str:
        return self._sender.project_id

    def __repr__(self) -> str:
        return (
            f"CceClient(endpoint={self.endpoint!r}, region={self.region!r}, "
            f"project_id={self.project_id!r})"
        )

    async def _call(
        self,
        method: str,
        url_path: str,
        *,
        query: Sequence[tuple[str, QueryValue]] = (),
        body: JSON | None = None,
        hint: str = "",
        repeatable: bool | None = None,
    ) -> JSON:
        request = ApiRequest(method, url_path, tuple(query), body, hint, repeatable)
        return (await self._sender.send(request)).body

    async def _object_call(
        self,
        method: str,
        url_path: str,
        *,
        query: Sequence[tuple[str, QueryValue]] = (),
        body: JSON | None = None,
        hint: str = "",
        repeatable: bool | None = None,
    ) -> Mapping[str, JSON]:
        request = ApiRequest(method, url_path, tuple(query), body, hint, repeatable)
        return _object((await self._sender.send(request)).body, request)

    def _cluster_path(self, cluster_id: str, suffix: str = "") -> str:
        return path(_CLUSTER, project_id=self.project_id, cluster_id=cluster_id) + suffix

    # --- templates and instances ---------------------------------------------

    async def list_templates(self, name: str | None = None) -> list[AddonTemplate]:
        query = [("addon_template_name", name)] if name else []
        body = await self._object_call("GET", "/api/v3/addontemplates", query=query)
        return [parse_template(t) for t in wire_items(body.get("items"))]

    async def list_instances(self, cluster_id: str) -> list[AddonInstance]:
        request = ApiRequest("GET", _ADDONS, (("cluster_id", cluster_id),), decode=False)
        raw = (await self._sender.send(request)).raw
        typed = decode_instances(raw, self._sender.share_json)
        if typed is not None:
            return typed  # the common case: see cloud/typedwire.py
        body = _object(decode_json(raw), request)
        found = wire_items(body.get("items"))
        for item in found:
            spec = item.get("spec")
            if isinstance(spec, dict) and "values" in spec:
                # 10,000 clusters' values are mostly the same few trees: share them.
                spec["values"] = self._sender.share_json(spec["values"])
        return [parse_instance(i) for i in found]

    async def find_instance(self, cluster_id: str, template_name: str) -> AddonInstance | None:
        """The cluster's instance of a template, if any: how to check whether an
        install that failed ambiguously took effect."""
        found = await self.list_instances(cluster_id)
        return next((i for i in found if i.template_name == template_name), None)

    async def get_instance(self, instance_id: str, cluster_id: str) -> AddonInstance:
        """Raises :class:`NotFoundError` when the instance does not exist (or is deleted)."""
        body = await self._object_call(
            "GET", path(_ADDONS + "/{id}", id=instance_id), query=[("cluster_id", cluster_id)]
        )
        return parse_instance(body)

    async def install(
        self,
        cluster_id: str,
        template_name: str,
        version: str | None,
        values: Mapping[str, JSON],
    ) -> AddonInstance:
        """POST: never repeated after an ambiguous failure (see :mod:`~reconciler.cloud.sender`)."""
        body = instance_body(
            cluster_id=cluster_id,
            template_name=template_name,
            version=version,
            values=values,
            annotations={"addon.install/type": "install"},
        )
        hint = f"check with find_instance({cluster_id!r}, {template_name!r}) before retrying"
        return parse_instance(await self._object_call("POST", _ADDONS, body=body, hint=hint))

    async def update(
        self,
        instance_id: str,
        cluster_id: str,
        template_name: str,
        version: str,
        values: Mapping[str, JSON],
        *,
        upgrade: bool,
    ) -> AddonInstance:
        """PUT the full values; ``upgrade`` marks a version change (``addon.upgrade/type``).

        Not re-sent blindly after an ambiguous failure: a repeat while the
        operation it started is in flight is refused (400 "is upgrading"), so
        the caller looks first (apply/ambiguous.py ``put_verdict``)."""
        annotations = {"addon.upgrade/type": "upgrade"} if upgrade else {}
        body = instance_body(
            cluster_id=cluster_id,
            template_name=template_name,
            version=version,
            values=values,
            annotations=annotations,
        )
        hint = f"check with get_instance({instance_id!r}, {cluster_id!r}) before retrying"
        return parse_instance(
            await self._object_call(
                "PUT", path(_ADDONS + "/{id}", id=instance_id), body=body, hint=hint,
                repeatable=False,
            )
        )

    async def delete(self, instance_id: str, cluster_id: str) -> None:
        """DELETE the instance; not re-sent blindly, for the same reason as :meth:`update`."""
        hint = f"check with get_instance({instance_id!r}, {cluster_id!r}) before retrying"
        await self._call(
            "DELETE", path(_ADDONS + "/{id}", id=instance_id), query=[("cluster_id", cluster_id)],
            hint=hint, repeatable=False,
        )

    async def rollback(self, instance_id: str, cluster_id: str) -> AddonInstance:
        hint = f"check with get_instance({instance_id!r}, {cluster_id!r}) before retrying"
        body = await self._object_call(
            "POST",
            path(_ADDONS + "/{id}/operation/rollback", id=instance_id),
            body={"clusterID": cluster_id},
            hint=hint,
        )
        return parse_instance(body)

    # --- clusters -------------------------------------------------------------

    async def get_cluster(self, cluster_id: str) -> Cluster:
        return parse_cluster(await self._object_call("GET", self._cluster_path(cluster_id)))

    async def list_clusters(self) -> list[Cluster]:
        body = await self._object_call("GET", path(_CLUSTERS, project_id=self.project_id))
        return [parse_cluster(c) for c in wire_items(body.get("items"))]

    # --- prechecks ------------------------------------------------------------

    async def create_addon_precheck(
        self, cluster_id: str, items: Sequence[PrecheckItem]
    ) -> list[AddonPrecheckTask]:
        hint = f"check with list_addon_precheck_tasks({cluster_id!r}) before retrying"
        body = await self._object_call(
            "POST",
            self._cluster_path(cluster_id, "/addons/precheck"),
            body=addon_precheck_body(cluster_id, items),
            hint=hint,
        )
        return precheck_tasks_of_create(body)

    async def list_addon_precheck_tasks(
        self,
        cluster_id: str,
        *,
        type: str | None = None,
        task_id: str | None = None,
        instance_id: str | None = None,
    ) -> list[AddonPrecheckTask]:
        filters = (("type", type), ("task_id", task_id), ("addon_instance_id", instance_id))
        query = [(key, value) for key, value in filters if value]
        body = await self._object_call(
            "GET", self._cluster_path(cluster_id, "/addons/precheck/tasks"), query=query
        )
        return [parse_addon_task(t) for t in wire_items(body.get("items"))]

    async def create_cluster_precheck(
        self, cluster_id: str, target_version: str, cluster_version: str | None = None
    ) -> ClusterPrecheckTask:
        hint = f"check with list_cluster_precheck_tasks({cluster_id!r}) before retrying"
        body = await self._object_call(
            "POST",
            self._cluster_path(cluster_id, "/operation/precheck"),
            body=cluster_precheck_body(cluster_id, target_version, cluster_version),
            hint=hint,
        )
        return parse_cluster_task(body)

    async def list_cluster_precheck_tasks(self, cluster_id: str) -> list[ClusterPrecheckTask]:
        body = await self._object_call(
            "GET", self._cluster_path(cluster_id, "/operation/precheck/tasks")
        )
        return [parse_cluster_task(t) for t in wire_items(body.get("items"))]

    async def get_cluster_precheck(self, cluster_id: str, task_id: str) -> ClusterPrecheckTask:
        suffix = path("/operation/precheck/tasks/{id}", id=task_id)
        return parse_cluster_task(
            await self._object_call("GET", self._cluster_path(cluster_id, suffix))
        )
