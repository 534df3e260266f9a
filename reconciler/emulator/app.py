"""The emulator as an ASGI application: routing, auth, faults, persistence.

Every request is handled synchronously after its (async) latency sleep, so no
lock is needed and none is held while sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from reconciler.emulator import wire
from reconciler.emulator.auth import authenticate
from reconciler.emulator.errors import INNER_BAD_BODY, ApiError, apig_body, cce_body
from reconciler.emulator.faults import DroppedConnection, Faults
from reconciler.emulator.persistence import load_into, save
from reconciler.emulator.scenario import (
    Account,
    Scenario,
    ScenarioError,
    generate_account,
    load_rules,
)
from reconciler.emulator.store import Instance, Store
from reconciler.kit.tokenbucket import TokenBucket
from reconciler.model.json import JSON

__all__ = ["Emulator"]

_log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_UUIDISH = r"[^/]+"
_P = rf"/api/v3/projects/(?P<project>{_UUIDISH})/clusters"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]

    def json(self) -> JSON:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "CCE.03400001", f"Request Body Error: {exc}",
                           INNER_BAD_BODY) from exc


@dataclass(frozen=True)
class Response:
    status: int
    body: JSON
    headers: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    encoded: bytes | None = None
    """The JSON body already encoded, in place of ``body`` (hot reads splice
    cached encodings of their items)."""


Handler = Callable[["Emulator", Request, float], Response]
_ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = []


def _route(method: str, pattern: str, mutating: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, re.compile(pattern + "/?"), fn, mutating))
        return fn
    return register


class Emulator:
    """A CCE add-on API emulator; ``app`` is the ASGI callable."""

    def __init__(
        self,
        scenario: Scenario,
        account: Account | None = None,
        time_scale: float = 1.0,
        state_file: Path | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] | None = None,
        rules_file: Path | None = None,
    ) -> None:
        """``rules_file``: a rules YAML (``failure_rules``, ``precheck_rules``,
        ``abnormal_rules``) added to ``scenario``'s and re-read whenever it
        changes, so rules can be lifted while the emulator keeps its state.
        Raises ``ScenarioError`` if it is malformed now."""
        self._base_scenario = scenario
        self.rules_file = Path(rules_file) if rules_file is not None else None
        self._rules_stamp: tuple[int, int, int] | None = None
        if self.rules_file is not None:
            self._rules_stamp = _stamp(self.rules_file)
            scenario = load_rules(self.rules_file, scenario)
        self.scenario = scenario
        self.account = account or scenario.account or generate_account()
        self.clock = clock or time.time
        self.faults = faults if faults is not None else Faults()
        self.state_file = Path(state_file) if state_file is not None else None
        self.request_count = 0
        self.store = Store(scenario, self.account.project_id, time_scale)
        self._random = random.Random()
        self._gateway: TokenBucket | None = None  # made on the first rate-limited request
        # Instance id -> (what its wire form was built from, the encoded JSON).
        # Encoding an instance (values, currentVersion with the template's
        # input) is most of a list's cost; a plan re-reads unchanged ones.
        self._encoded: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        now = self.clock()
        for seed in scenario.instances:
            self.store.add(Instance(
                id=seed.id, cluster_id=seed.cluster_id, template=seed.template,
                version=seed.version, values=seed.values, created=now, updated=now,
                status=seed.status, reason=seed.reason, message=seed.message,
                previous_version=seed.previous_version, is_rollbackable=seed.is_rollbackable,
                running_since=now if seed.status == "running" else None))
        if self.state_file is not None:
            load_into(self.store, self.state_file)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self._asgi(scope, receive, send)

        # A plain function, not a bound method: uvicorn's interface detection
        # would take a bound method for ASGI2.
        self.app: Callable[[Scope, Receive, Send], Awaitable[None]] = app

    # --- ASGI ---------------------------------------------------------------------------
    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self.request_count += 1
        request_id = uuid.uuid4().hex
        body = await _read_body(receive)
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.drop_rate and self._random.random() < self.faults.drop_rate:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"64")]})
            await send({"type": "http.response.body", "body": b'{"kind":', "more_body": True})
            raise DroppedConnection()
        response = self.handle(scope, body, request_id)
        headers = [(b"x-request-id", request_id.encode())]
        headers += [(k.encode(), v.encode()) for k, v in response.headers]
        if response.text is not None:
            payload = response.text.encode()
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        else:
            payload = (response.encoded if response.encoded is not None
                       else json.dumps(response.body).encode())
            headers.append((b"content-type", b"application/json;charset=utf-8"))
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _gateway_allows(self, rate: float) -> bool:
        """The gateway's limit: ``rate`` requests per second, a burst of one
        second's worth, full at the first request. ``faults`` may change the
        rate while the emulator runs, so it is re-read on every request."""
        burst = max(rate, 1.0)
        if self._gateway is None:
            self._gateway = TokenBucket(rate or 1.0, burst)  # starts full
        self._gateway.set_rate(rate, burst)
        return self._gateway.try_take()

    def reload_rules(self) -> bool:
        """Re-read ``rules_file`` if it changed since last read (one ``stat``: cheap
        enough for every request). A malformed or vanished file keeps the last
        good rules and says why on the log. True if the rules were replaced."""
        if self.rules_file is None:
            return False
        stamp = _stamp(self.rules_file)
        if stamp == self._rules_stamp:
            return False
        self._rules_stamp = stamp
        if stamp is None:
            _log.warning("emulator: rules file %s is gone; keeping its last rules",
                         self.rules_file)
            return False
        try:
            scenario = load_rules(self.rules_file, self._base_scenario)
        except ScenarioError as exc:
            _log.warning("emulator: %s; keeping the previous rules", exc)
            return False
        self.scenario = self.store.scenario = scenario
        _log.warning("emulator: re-read %s: %d failure, %d precheck, %d abnormal rule(s)",
                     self.rules_file, len(scenario.failure_rules),
                     len(scenario.precheck_rules), len(scenario.abnormal_rules))
        return True

    def handle(self, scope: Scope, body: bytes, request_id: str) -> Response:
        """Everything after the latency: auth, gateway faults, routing, persistence."""
        self.reload_rules()
        method = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw_path_text = raw_path.decode("latin-1").split("?", 1)[0]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        why = authenticate(self.account, method, raw_path_text, raw_query, headers, body,
                           time.time())
        if why is not None:
            return Response(401, apig_body("APIG.0301", f"Incorrect IAM authentication "
                                           f"information: {why}", request_id))
        now = self.clock()
        faults = self.faults
        limited = (faults.rate_limit_per_s is not None
                   and not self._gateway_allows(faults.rate_limit_per_s))
        if limited or (faults.throttle_rate and self._random.random() < faults.throttle_rate):
            return Response(429, apig_body("APIG.0308", "The throttling threshold has been "
                                           "reached: policy user over ratelimit", request_id),
                            (("Retry-After", str(faults.retry_after_s)),))
        if faults.error_rate and self._random.random() < faults.error_rate:
            return self._error(ApiError(500, "CCE.03500001", "emulator fault: internal error"))
        path = scope["path"]
        query = dict(_parse_query(raw_query))
        allowed_methods = set()
        for route_method, pattern, handler, mutating in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            allowed_methods.add(route_method)
            if route_method != method:
                continue
            req = Request(method, path, query, headers, body, match.groupdict())
            try:
                self._check_project(req)
                response = handler(self, req, now)
            except ApiError as err:
                return self._error(err)
            if mutating and response.status < 300 and self.state_file is not None:
                save(self.store, self.state_file)
            return response
        if allowed_methods:
            return Response(405, apig_body("APIG.0101", f"method {method} is not allowed on "
                                           f"{path}", request_id))
        return Response(404, apig_body("APIG.0101", "The API does not exist or has not been "
                                       "published in the environment", request_id))

    def _check_project(self, req: Request) -> None:
        family = "01" if "project" in req.params else "03"
        header = req.headers.get("x-project-id")
        project = req.params.get("project")
        for given in (project, header):
            if given is not None and given != self.account.project_id:
                raise ApiError(403, f"CCE.{family}403001",
                               f"project {given} is not the project of this account")

    def encoded_instance(self, inst: Instance) -> bytes:
        """``json.dumps(wire.instance(...))``, cached while nothing it shows changes."""
        cluster = self.store.clusters.get(inst.cluster_id)
        basis = (inst.version, inst.values, inst.created, inst.updated, inst.status,
                 inst.reason, inst.message, inst.is_rollbackable, inst.previous_version,
                 inst.template, inst.cluster_id, cluster.version if cluster else None)
        cached = self._encoded.get(inst.id)
        if cached is not None and _same(cached[0], basis):
            return cached[1]
        encoded = json.dumps(wire.instance(self.store, inst)).encode()
        self._encoded[inst.id] = (basis, encoded)
        return encoded

    @staticmethod
    def _error(err: ApiError) -> Response:
        return Response(err.status, cce_body(err))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file: mtime, size and inode (editors that save by
    renaming a new file over the old one keep neither)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    # Values are compared by identity: the store replaces them, never mutates.
    return all(a is b or (type(a) is not dict and a == b) for a, b in zip(old, new, strict=True))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _parse_query(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


# --- handlers ----------------------------------------------------------------------------


@_route("GET", r"/api/v3/addontemplates")
def _list_templates(emu: Emulator, req: Request, now: float) -> Response:
    name = req.query.get("addon_template_name")
    if name is not None and not re.fullmatch(r"[A-Za-z0-9._-]{2,30}", name):
        raise ApiError(400, "CCE.03400001", "addon_template_name must be 2-30 characters of "
                       "letters, digits, '.', '_' or '-'")
    items = [wire.template(t) for t in emu.store.templates.values()
             if name is None or name in (t.name, t.alias)]
    return Response(200, {"kind": "Addon", "apiVersion": "v3", "items": items})


@_route("GET", r"/api/v3/addons")
def _list_instances(emu: Emulator, req: Request, now: float) -> Response:
    cluster_id = req.query.get("cluster_id")
    if not cluster_id:
        raise ApiError(400, "CCE.03400001", "query parameter cluster_id is required")
    emu.store.cluster(cluster_id)
    instances = emu.store.list_instances(cluster_id, now)
    encoded = b", ".join(emu.encoded_instance(i) for i in instances)
    return Response(200, None,
                    encoded=b'{"kind": "Addon", "apiVersion": "v3", "items": [' + encoded + b"]}")


@_route("POST", r"/api/v3/addons", mutating=True)
def _create_instance(emu: Emulator, req: Request, now: float) -> Response:
    inst = emu.store.create_instance(req.json(), now)
    return Response(201, wire.instance(emu.store, inst))


@_route("GET", r"/api/v3/addons/(?P<id>[^/]+)")
def _show_instance(emu: Emulator, req: Request, now: float) -> Response:
    inst = emu.store.get_instance(req.params["id"], now)
    cluster_id = req.query.get("cluster_id")
    if cluster_id and cluster_id != inst.cluster_id:
        raise ApiError(404, "CCE.03404001",
                       f"addon instance {inst.id} not found in cluster {cluster_id}")
    return Response(200, wire.instance(emu.store, inst))


@_route("PUT", r"/api/v3/addons/(?P<id>[^/]+)", mutating=True)
def _update_instance(emu: Emulator, req: Request, now: float) -> Response:
    inst = emu.store.update_instance(req.params["id"], req.json(), now)
    return Response(200, wire.instance(emu.store, inst))


@_route("DELETE", r"/api/v3/addons/(?P<id>[^/]+)", mutating=True)
def _delete_instance(emu: Emulator, req: Request, now: float) -> Response:
    emu.store.delete_instance(req.params["id"], req.query.get("cluster_id"), now)
    return Response(200, None, text="success")


@_route("POST", r"/api/v3/addons/(?P<id>[^/]+)/operation/rollback", mutating=True)
def _rollback_instance(emu: Emulator, req: Request, now: float) -> Response:
    inst = emu.store.rollback_instance(req.params["id"], req.json(), now)
    return Response(200, wire.instance(emu.store, inst))


@_route("GET", _P)
def _list_clusters(emu: Emulator, req: Request, now: float) -> Response:
    items = [wire.cluster(c) for c in emu.store.clusters.values()]
    return Response(200, {"kind": "Cluster", "apiVersion": "v3", "items": items})


@_route("GET", _P + r"/(?P<cluster>[^/]+)")
def _show_cluster(emu: Emulator, req: Request, now: float) -> Response:
    cluster = emu.store.cluster(req.params["cluster"], "01")
    body = wire.cluster(cluster)
    if req.query.get("detail") == "true":
        installed = [i.template for i in emu.store.list_instances(cluster.id, now)]
        body["metadata"]["annotations"] = {
            "installedAddonInstances": json.dumps([{"addonTemplateName": n} for n in installed]),
            "totalNodesNumber": str(len(cluster.nodes)),
            "activeNodesNumber": str(len(cluster.nodes)),
        }
    return Response(200, body)


@_route("POST", _P + r"/(?P<cluster>[^/]+)/addons/precheck", mutating=True)
def _create_addon_precheck(emu: Emulator, req: Request, now: float) -> Response:
    echo, tasks = emu.store.create_addon_precheck(req.params["cluster"], req.json(), now)
    return Response(201, {"kind": "AddonCheck", "apiVersion": "v3", "spec": echo,
                          "status": {"items": [wire.addon_task(emu.store, t, now)
                                               for t in tasks]}})


@_route("GET", _P + r"/(?P<cluster>[^/]+)/addons/precheck/tasks")
def _list_addon_prechecks(emu: Emulator, req: Request, now: float) -> Response:
    check_type = req.query.get("type")
    if check_type not in (None, "addonStatic", "addonUpgrade"):
        raise ApiError(400, "CCE.03400001", "type must be addonStatic or addonUpgrade")
    tasks = emu.store.list_addon_prechecks(req.params["cluster"], check_type,
                                           req.query.get("task_id"),
                                           req.query.get("addon_instance_id"))
    return Response(200, {"kind": "AddonCheck", "apiVersion": "v3",
                          "pageInfo": {"currentCount": len(tasks)},
                          "items": [wire.addon_task(emu.store, t, now) for t in tasks]})


@_route("POST", _P + r"/(?P<cluster>[^/]+)/operation/precheck", mutating=True)
def _create_cluster_precheck(emu: Emulator, req: Request, now: float) -> Response:
    task = emu.store.create_cluster_precheck(req.params["cluster"], req.json(), now)
    return Response(200, wire.cluster_task(emu.store, task, now, metadata_uid_only=True))


@_route("GET", _P + r"/(?P<cluster>[^/]+)/operation/precheck/tasks")
def _list_cluster_prechecks(emu: Emulator, req: Request, now: float) -> Response:
    tasks = emu.store.list_cluster_prechecks(req.params["cluster"])
    return Response(200, {"apiVersion": "v3", "kind": "PreCheckTask",
                          "metadata": {"uid": "", "name": "", "labels": {}, "annotations": {},
                                       "creationTimestamp": wire.rfc3339(now),
                                       "updateTimestamp": wire.rfc3339(now)},
                          "items": [wire.cluster_task(emu.store, t, now) for t in tasks]})


@_route("GET", _P + r"/(?P<cluster>[^/]+)/operation/precheck/tasks/(?P<task>[^/]+)")
def _show_cluster_precheck(emu: Emulator, req: Request, now: float) -> Response:
    task = emu.store.get_cluster_precheck(req.params["cluster"], req.params["task"])
    return Response(200, wire.cluster_task(emu.store, task, now))
