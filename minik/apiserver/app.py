"""The HTTP face of the API server: routing, authentication, encoding, streaming.

Every Kubernetes URL has the same grammar (upstream's ``RequestInfo``)::

    /api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
    /apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]

so one route parses it, looks the resource up in the registry and calls the
generic storage. The HTTP verb plus the parsed path gives the API verb: GET on a
collection is ``list`` (``watch`` with ``?watch=true``), POST ``create``, PUT
``update``, PATCH ``patch``, DELETE ``delete`` or ``deletecollection``.

Around that core, what a client asks for through headers and parameters:

* ``Accept: application/json;as=Table;g=meta.k8s.io`` (kubectl get): lists, gets and
  watch events are answered as server-printed Tables (``tables.py``);
* ``Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io`` (metadata
  clients, e.g. garbage collectors): objects reduced to their metadata (``partial.py``);
* ``Content-Type``: JSON, YAML, Kubernetes protobuf for bodies; for PATCH also JSON
  patch, merge patch, strategic merge patch and ``application/apply-patch+yaml``
  (server-side apply, ``apply.py``). ``decoding.py`` turns every body into JSON values,
  within bounds on nesting and YAML aliases. Answers are always JSON;
* ``?fieldValidation=Strict|Warn|Ignore``: what an unknown or duplicate field does
  (``fieldvalidation.py``); warnings go back as ``Warning`` headers;
* ``?fieldManager=``: who made the change, recorded in ``metadata.managedFields``.

Clients that ask for none of these (the controllers) pay for none of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.types import Receive, Scope, Send

from minik import KUBERNETES_VERSION, __version__
from minik.api import errors
from minik.api.identity import UserInfo
from minik.api.patch import (
    PatchError,
    PatchTooLarge,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from minik.api.validation.warnings import warnings_for
from minik.apiserver import (
    apply,
    decoding,
    discovery,
    etcd,
    fieldvalidation,
    health,
    partial,
    podproxy,
    schemas,
    storage_errors,
    subresources,
    swagger,
    swagger_pb,
    tables,
    warning,
)
from minik.apiserver.authn import endpoints as identity_endpoints
from minik.apiserver.authn.chain import Authenticator
from minik.apiserver.authn.serviceaccount import TokenIssuer
from minik.apiserver.deadlines import CLIENT_CLOSED_REQUEST, DEFAULT_REQUEST_TIMEOUT, is_long_running, within
from minik.apiserver.eviction import Evictor
from minik.apiserver.kubeletclient import KubeletClientConfig
from minik.apiserver.metrics import Metrics
from minik.apiserver.openapi import OpenAPI
from minik.apiserver.registry import Registry, ResourceType
from minik.apiserver.rest import DeleteOptions, ListOptions, Storage, dry_run_requested, parse_int64
from minik.apiserver.watchcache import Bookmark, Closed, Event

log = logging.getLogger(__name__)

Obj = dict[str, Any]
JSON = "application/json"
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
#: Kinds whose finished delete answers the deleted object, not a Status (upstream's
#: ``ReturnDeletedObject``; typed clients decode the answer as that kind).
_RETURNS_DELETED_OBJECT = ("Pod", "Namespace", "Service", "PersistentVolumeClaim", "ServiceAccount")
#: A watch stream batches the events waiting for it into chunks of about this size.
_WATCH_BATCH_BYTES = 64 * 1024


def _needs_framework(path: str) -> bool:
    """Paths served by the FastAPI app's own routes rather than the API dispatcher."""
    return path in PUBLIC_PATHS or (
        path.startswith("/api/v1/namespaces/") and path.endswith(("/log", "/exec"))
    )


@dataclass
class RequestInfo:
    group: str
    version: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    watch_path: bool = False


def parse_path(path: str) -> RequestInfo | None:
    """Split a resource URL into its parts; None if it is not one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = False
    if rest and rest[0] == "watch":  # the deprecated /watch/ prefix some old clients use
        watch_path, rest = True, rest[1:]
    if not rest:
        return None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        info = RequestInfo(group, version, rest[2], namespace=rest[1], watch_path=watch_path)
        rest = rest[3:]
    else:
        info = RequestInfo(group, version, rest[0], watch_path=watch_path)
        rest = rest[1:]
    if len(rest) > 2:
        return None
    if rest:
        info.name = rest[0]
    if len(rest) == 2:
        info.subresource = rest[1]
    return info


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type=JSON, headers=headers)


def error_response(err: errors.APIError) -> Response:
    return json_response(err.to_status(), err.code, err.headers or None)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    return parse_int64(value, key)


def list_options(query: dict[str, str]) -> ListOptions:
    return ListOptions(
        label_selector=query.get("labelSelector", ""),
        field_selector=query.get("fieldSelector", ""),
        limit=_int(query, "limit") or 0,
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion"),
        resource_version_match=query.get("resourceVersionMatch", ""),
        send_initial_events=_flag(query.get("sendInitialEvents")),
        allow_bookmarks=_flag(query.get("allowWatchBookmarks")),
        timeout_seconds=_int(query, "timeoutSeconds"),
    )


class APIServer:
    """Wires storage, auth and metrics into a FastAPI application."""

    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        authenticator: Authenticator | None,
        *,
        max_body_bytes: int = 3 * 1024 * 1024,
        min_watch_timeout: int = 1800,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        token_issuer: TokenIssuer | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.authn = authenticator
        self.token_issuer = token_issuer
        # pods/log and pods/exec: how to call kubelets (main.py sets it from the --kubelet-* flags).
        self.kubelet_client = KubeletClientConfig()
        self.max_body_bytes = max_body_bytes
        self.min_watch_timeout = min_watch_timeout
        self.request_timeout = request_timeout
        self.metrics = Metrics()
        self.openapi = OpenAPI(registry)
        self.ready = asyncio.Event()
        self.app = self._build()

    # -- app ---------------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(title="minik-apiserver", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/version")
        @app.get("/version/")  # upstream answers both; kr8s and VersionApi ask with the slash
        async def version() -> Response:
            major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
            return json_response(
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": f"{KUBERNETES_VERSION}-minik.{__version__}",
                    "gitCommit": "minik",
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "python",
                    "compiler": "cpython",
                    "platform": "linux/amd64",
                }
            )

        @app.exception_handler(etcd.EtcdError)
        async def etcd_failed(_request: Request, exc: Exception) -> Response:
            """etcd failing under a framework route (pods/log): the same Status as elsewhere."""
            assert isinstance(exc, etcd.EtcdError)
            return error_response(storage_errors.to_api_error(exc))

        checks = health.Checks(self.storage, self.ready)

        @app.get("/healthz")
        @app.get("/livez")
        @app.get("/readyz")
        async def health_endpoint(request: Request) -> Response:
            endpoint = request.url.path.lstrip("/")
            report = await checks.run(endpoint, request.query_params.getlist("exclude"))
            verbose = "verbose" in request.query_params
            code = 200 if report.passed else 500
            return Response(report.render(endpoint, verbose), status_code=code, media_type="text/plain")

        # Every other path goes to one dispatcher (:meth:`__call__` sends API requests
        # there directly; this route is the way in for anyone mounting ``self.app``).
        app.add_route("/{path:path}", self.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        # pods/log and pods/exec stream to and from the pod's kubelet (and exec speaks
        # WebSocket), so they get routes of their own ahead of the catch-all.
        podproxy.install(app, self)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point uvicorn serves.

        An API request goes straight to :meth:`dispatch`. Starlette's middleware stack
        (server-error pages, exception handlers, matching a dozen routes) would give it
        nothing — dispatch already turns every failure into a ``Status`` — yet costs CPU
        on every request. Everything else (lifespan, /version, the health checks, the pod
        log/exec proxies, WebSockets) goes through the FastAPI app.
        """
        if scope["type"] == "http" and not _needs_framework(scope["path"]):
            response = await self.dispatch(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        """Authenticate, route and serve one API request; every error becomes a ``Status``."""
        started = time.perf_counter()
        verb, resource, code = request.method, "", 500
        try:
            self._authenticate(request)
            if is_long_running(request):
                response, verb, resource = await self._route(request)
            else:
                what = f"{request.method} {request.url.path}"
                response, verb, resource = await within(self.request_timeout, self._route(request), what)
            code = response.status_code
            return response
        except errors.APIError as e:
            code = e.code
            return error_response(e)
        except ClientDisconnect:
            code = CLIENT_CLOSED_REQUEST
            log.info("the client of %s %s went away before its answer", request.method, request.url.path)
            return Response(status_code=code)  # nobody will read it
        except etcd.EtcdError as e:
            err = storage_errors.to_api_error(e)
            code = err.code
            log.log(
                logging.WARNING if code >= 500 else logging.INFO,
                "%s %s: %s",
                request.method,
                request.url.path,
                e,
            )
            return error_response(err)
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.url.path)
            return error_response(errors.internal("an unexpected error; see the apiserver log"))
        finally:
            self.metrics.observe(verb, resource, code, time.perf_counter() - started)

    def _authenticate(self, request: HTTPConnection) -> UserInfo | None:
        """Who is asking (``authn/``): 401 if nobody we know; the user goes on ``request.state.user``."""
        if self.authn is None or request.url.path in PUBLIC_PATHS:
            return None
        user = self.authn.authenticate(request.scope, request.headers)
        if user is None:
            raise errors.unauthorized()
        request.state.user = user
        return user

    async def _route(self, request: Request) -> tuple[Response, str, str]:
        path = request.url.path
        query = dict(request.query_params)
        method = request.method
        if path == "/metrics" and method == "GET":
            return (
                Response(self.metrics.render(self.storage.cache), media_type="text/plain"),
                "get",
                "metrics",
            )
        doc = discovery.document(
            self.registry, path, request.headers.get("accept", ""), self._server_address(request)
        )
        if doc is not None and method == "GET":
            body, content_type = doc
            return Response(body, media_type=content_type), "get", "discovery"
        if path.startswith("/openapi/") and method == "GET":
            return self._openapi(path, request.headers.get("accept", "")), "get", "openapi"
        info = parse_path(path)
        if info is None:
            raise errors.no_such_resource(
                f"the server could not find the requested resource ({method} {path})"
            )
        rt = self.registry.lookup(info.group, info.version, info.resource)
        if rt is None:
            raise errors.no_such_resource(
                "the server could not find the requested resource", info.resource, info.group
            )
        if info.namespace is not None and not rt.namespaced:
            raise errors.no_such_resource(f"{rt.plural} is not a namespaced resource", rt.plural, rt.group)
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.no_such_resource(
                f"{rt.plural} has no subresource {info.subresource!r}", rt.plural, rt.group
            )
        if info.watch_path:
            query["watch"] = "true"
        response, verb = await self._serve(request, rt, info, query)
        # Never fails (warning.py): once a write is committed, nothing may turn its answer into a 500.
        response.raw_headers.extend(warning.headers(getattr(request.state, "warnings", ())))
        return response, verb, rt.plural

    @staticmethod
    def _server_address(request: Request) -> str:
        """The address and port this request reached (discovery reports them)."""
        server = request.scope.get("server")
        if server and server[1]:
            return discovery.server_address(str(server[0]), int(server[1]))
        return request.headers.get("host", "127.0.0.1:6443")

    def _openapi(self, path: str, accept: str) -> Response:
        body = None
        if path.rstrip("/") == "/openapi/v2":
            protobuf = swagger_pb.wanted(accept)  # kubectl asks for protobuf only
            if not protobuf and not swagger.wants_json(accept):
                raise errors.not_acceptable("/openapi/v2 is served as JSON or gnostic protobuf")
            body = self.openapi.v2(protobuf=protobuf)
            if body is not None and protobuf:
                return Response(body, media_type=swagger_pb.MEDIA_TYPE)
        elif path.rstrip("/").startswith("/openapi/v3"):
            body = self.openapi.document(path)
        if body is None:
            raise errors.no_such_resource(f"the server could not find the requested resource ({path})")
        return Response(body, media_type=JSON)

    # -- verbs -------------------------------------------------------------------------------

    async def _serve(
        self, request: Request, rt: ResourceType, info: RequestInfo, query: dict[str, str]
    ) -> tuple[Response, str]:
        method = request.method
        storage = self.storage
        ns = info.namespace if rt.namespaced else None
        if identity_endpoints.handles(rt, info.subresource):  # TokenRequest, TokenReview, whoami
            return await identity_endpoints.serve(self, request, rt, ns, info.name), "create"
        dry_run = dry_run_requested(query, method)
        accept = request.headers.get("accept", "")
        metadata_only = partial.requested(accept)  # PartialObjectMetadata(List), or None
        if info.name is None:
            if rt.namespaced and ns is None and method in ("POST",):
                raise errors.APIError(
                    405, "MethodNotAllowed", f"create {rt.plural} needs a namespace in the path"
                )
            if method == "GET":
                opts = list_options(query)
                if _flag(query.get("watch")):
                    as_table = tables.wants_table(accept)
                    return await self._watch(
                        request,
                        rt,
                        ns,
                        opts,
                        as_table,
                        tables.include_object(query),
                        metadata_only is not None,
                    ), "watch"
                if metadata_only == partial.OBJECT:
                    raise partial.not_acceptable(metadata_only, collection=True)
                body = await storage.list(rt, ns, opts)
                if tables.wants_table(accept):
                    return self._list_table(rt, body, query), "list"
                if metadata_only:
                    data = orjson.loads(body)
                    return json_response(partial.of_list(data["items"], data["metadata"])), "list"
                return Response(body, media_type=JSON), "list"
            if method == "POST":
                body_obj = await self._write_body(request, rt, query)
                self._check_kind(rt, body_obj)
                finish = self._creator(request, rt, query)
                created = await storage.create(rt, ns, body_obj, dry_run=dry_run, finish=finish)
                return json_response(created, 201), "create"
            if method == "DELETE":
                opts_body = await self._optional_body(request)
                result = await storage.delete_collection(
                    rt, ns, list_options(query), DeleteOptions.from_body(opts_body, query)
                )
                return json_response(result), "deletecollection"
            raise errors.method_not_allowed(f"{method} is not supported on a collection")

        name = info.name
        sub = info.subresource
        if metadata_only == partial.LIST:
            raise partial.not_acceptable(metadata_only, collection=False)
        if sub is None:
            if method == "GET":
                obj = await storage.get(rt, ns, name)
                if tables.wants_table(accept):
                    return self._object_table(rt, obj, query), "get"
                if metadata_only:
                    return json_response(partial.of_object(obj)), "get"
                return json_response(obj), "get"
            if method == "PUT":
                body_obj = await self._write_body(request, rt, query)
                self._check_kind(rt, body_obj)
                updated = await storage.update(
                    rt, ns, name, body_obj, dry_run=dry_run, finish=self._updater(request, rt, None, query)
                )
                return json_response(partial.of_object(updated) if metadata_only else updated), "update"
            if method == "PATCH":
                patched, code = await self._patch(request, rt, ns, name, None, query)
                return json_response(partial.of_object(patched) if metadata_only else patched, code), "patch"
            if method == "DELETE":
                opts_body = await self._optional_body(request)
                obj, deleted = await storage.delete(rt, ns, name, DeleteOptions.from_body(opts_body, query))
                # Like upstream: a finished delete answers a Status (the object for
                # the kinds whose storage says ReturnDeletedObject); a pending one
                # (graceful or held by finalizers) answers the object as it now is.
                if deleted and rt.kind not in _RETURNS_DELETED_OBJECT:
                    return json_response(_success(rt, obj)), "delete"
                return json_response(obj), "delete"
            raise errors.method_not_allowed(f"{method} is not supported on {rt.plural}")
        return await self._serve_subresource(request, rt, ns, name, sub, query, dry_run)

    async def _serve_subresource(
        self,
        request: Request,
        rt: ResourceType,
        ns: str | None,
        name: str,
        sub: str,
        query: dict[str, str],
        dry_run: bool,
    ) -> tuple[Response, str]:
        storage = self.storage
        method = request.method
        if sub == "status":
            if method == "GET":
                return json_response(await storage.get(rt, ns, name)), "get"
            if method == "PUT":
                body = await self._write_body(request, rt, query)
                self._check_kind(rt, body)
                updated = await storage.update(
                    rt,
                    ns,
                    name,
                    body,
                    subresource="status",
                    dry_run=dry_run,
                    finish=self._updater(request, rt, "status", query),
                )
                return json_response(updated), "update"
            if method == "PATCH":
                return json_response(*await self._patch(request, rt, ns, name, "status", query)), "patch"
        elif sub == "scale":
            if method == "GET":
                return json_response(subresources.to_scale(rt, await storage.get(rt, ns, name))), "get"
            if method == "PUT":
                scale = await self._body(request)
                return json_response(
                    await subresources.update_scale(storage, rt, ns, name, scale, dry_run=dry_run)
                ), "update"
            if method == "PATCH":
                current = subresources.to_scale(rt, await storage.get(rt, ns, name))
                patch = decoding.decode(await self._raw_body(request), JSON).value
                patched = self._apply_patch(request, current, patch, "autoscaling/v1/Scale")
                return json_response(
                    await subresources.update_scale(
                        storage, rt, ns, name, patched, dry_run=dry_run, patched=True
                    )
                ), "patch"
        elif sub == "binding" and method == "POST":
            assert ns is not None
            result = await subresources.bind(storage, rt, ns, name, await self._body(request))
            return json_response(result, 201), "create"
        elif sub == "eviction" and method == "POST":
            assert ns is not None
            status, code = await Evictor(storage, rt).evict(ns, name, await self._body(request), query)
            return json_response(status, code), "create"
        elif sub == "finalize" and method == "PUT":
            return json_response(
                await subresources.finalize_namespace(storage, rt, name, await self._body(request))
            ), "update"
        elif sub in ("log", "exec"):
            # podproxy.py's routes serve these (GET for log, a WebSocket GET or a POST for
            # exec); only other methods end up here.
            raise errors.method_not_allowed(f"{method} is not supported on {rt.plural}/{sub}")
        raise errors.method_not_allowed(f"{method} is not supported on {rt.plural}/{sub}")

    # -- tables ------------------------------------------------------------------------------

    def _list_table(self, rt: ResourceType, body: bytes, query: dict[str, str]) -> Response:
        """A list answer re-cast as a Table (only for clients that ask: kubectl get)."""
        data = orjson.loads(body)
        table = tables.table(
            rt.kind, data.get("items") or [], data.get("metadata") or {}, tables.include_object(query)
        )
        return json_response(table)

    def _object_table(self, rt: ResourceType, obj: Obj, query: dict[str, str]) -> Response:
        meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        return json_response(tables.table(rt.kind, [obj], meta, tables.include_object(query)))

    # -- field validation and field ownership ------------------------------------------------

    def _warn(self, request: Request, messages: list[str]) -> None:
        if messages:
            if not hasattr(request.state, "warnings"):
                request.state.warnings = []
            request.state.warnings.extend(messages)

    def _validate_fields(
        self,
        request: Request,
        rt: ResourceType,
        obj: Obj,
        query: dict[str, str],
        duplicates: Sequence[str] = (),
    ) -> None:
        """Drop the fields the kind's schema does not know; Strict → 400, Warn → warnings."""
        mode, _ = fieldvalidation.directive(query)
        node = schemas.type_node(rt.group, rt.version, rt.kind)
        unknown = fieldvalidation.prune_unknown(obj, node)
        if unknown or duplicates:
            found = fieldvalidation.problems(unknown, list(duplicates))
            self._warn(request, fieldvalidation.enforce(rt.kind, rt.version, mode, found))
        self._warn(request, warnings_for(rt.kind, obj))

    def _manager(self, request: Request, query: dict[str, str]) -> str | None:
        manager = query.get("fieldManager")
        if manager is not None and (not manager or len(manager) > 128):
            raise errors.bad_request("fieldManager must be between 1 and 128 characters long")
        return manager

    def _creator(
        self, request: Request, rt: ResourceType, query: dict[str, str]
    ) -> Callable[[Obj], None] | None:
        """Field ownership for a create: recorded only when the client names a fieldManager."""
        manager = self._manager(request, query)
        if manager is None:
            return None
        node = schemas.node_for(rt.group, rt.version, rt.kind)
        has_status = rt.strategy.has_status

        def finish(obj: Obj) -> None:
            obj.get("metadata", {}).pop("managedFields", None)
            apply.track_update(obj, None, node, manager, rt.api_version, None, has_status)

        return finish

    def _updater(
        self, request: Request, rt: ResourceType, sub: str | None, query: dict[str, str]
    ) -> Callable[[Obj, Obj], None]:
        """Field ownership for an update or patch of an object that tracks it (or names a manager)."""
        manager = self._manager(request, query)
        node = schemas.node_for(rt.group, rt.version, rt.kind)
        has_status = rt.strategy.has_status
        user_agent = request.headers.get("user-agent", "")

        def finish(new: Obj, old: Obj) -> None:
            if manager is None and not old.get("metadata", {}).get("managedFields"):
                return  # nobody tracks this object's fields: the hot path pays nothing
            apply.track_update(
                new, old, node, manager or apply.default_manager(user_agent), rt.api_version, sub, has_status
            )

        return finish

    # -- patch -------------------------------------------------------------------------------

    async def _patch(
        self,
        request: Request,
        rt: ResourceType,
        ns: str | None,
        name: str,
        sub: str | None,
        query: dict[str, str],
    ) -> tuple[Obj, int]:
        """The patched object and the status code (201 when an apply created it)."""
        raw = await self._raw_body(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        dry_run = bool(query.get("dryRun"))
        if content_type == "application/apply-patch+yaml":
            return await self._server_side_apply(request, rt, ns, name, sub, raw, query)
        mode, explicit = fieldvalidation.directive(query)
        decoded = decoding.decode(raw, JSON, duplicates=explicit and mode != fieldvalidation.IGNORE)

        def mutate(current: Obj) -> Obj:
            patched = self._apply_patch(request, current, decoded.value, rt.type_key)
            self._validate_fields(request, rt, patched, query, decoded.duplicates)
            return patched

        patched = await self.storage.guaranteed_update(
            rt,
            ns,
            name,
            mutate,
            subresource=sub,
            dry_run=dry_run,
            finish=self._updater(request, rt, sub, query),
        )
        return patched, 200

    async def _server_side_apply(
        self,
        request: Request,
        rt: ResourceType,
        ns: str | None,
        name: str,
        sub: str | None,
        raw: bytes,
        query: dict[str, str],
    ) -> tuple[Obj, int]:
        """Server-side apply: create when absent (201), else merge and record ownership (``apply.py``)."""
        manager = query.get("fieldManager")
        if not manager:
            raise errors.bad_request("PATCH with application/apply-patch+yaml requires fieldManager")
        mode, explicit = fieldvalidation.directive(query)
        want_duplicates = explicit and mode != fieldvalidation.IGNORE
        decoded = decoding.decode(raw, "application/yaml", duplicates=want_duplicates)
        config = decoded.value
        if not isinstance(config, dict):
            raise errors.bad_request("an apply patch must be an object")
        duplicates = decoded.duplicates if want_duplicates else []
        self._check_kind(rt, config, required=True)
        meta = config.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta and meta.get("managedFields"):
            raise errors.bad_request("metadata.managedFields must be nil in an apply configuration")
        if meta and meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if meta and rt.namespaced and meta.get("namespace") not in (None, "", ns):
            raise errors.bad_request(
                f"the namespace of the object ({meta.get('namespace')}) does not match the namespace "
                f"on the request ({ns})"
            )
        self._validate_fields(request, rt, config, query, duplicates)
        force = _flag(query.get("force"))
        dry_run = bool(query.get("dryRun"))
        node = schemas.node_for(rt.group, rt.version, rt.kind)
        has_status = rt.strategy.has_status
        for _attempt in range(3):
            try:
                await self.storage.get(rt, ns, name)
            except errors.APIError as e:
                if e.code != 404 or sub is not None:
                    raise
                obj = apply.apply_create(config, node, manager, rt.api_version, has_status)
                obj.setdefault("metadata", {})["name"] = name
                try:
                    return await self.storage.create(rt, ns, obj, dry_run=dry_run), 201
                except errors.APIError as e2:
                    if e2.reason != "AlreadyExists":
                        raise
                    continue  # someone created it meanwhile: apply to theirs

            def merge(live: Obj) -> Obj:
                return apply.apply(
                    live,
                    config,
                    node,
                    manager,
                    rt.api_version,
                    subresource=sub,
                    has_status=has_status,
                    force=force,
                    rt_plural=rt.plural,
                    name=name,
                    group=rt.group,
                )

            updated = await self.storage.guaranteed_update(
                rt, ns, name, merge, subresource=sub, dry_run=dry_run
            )
            return updated, 200
        raise errors.conflict(
            rt.plural, name, "the object keeps being created and deleted; try again", rt.group
        )

    def _apply_patch(self, request: Request, current: Obj, patch: Any, type_key: str) -> Obj:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            if content_type == "application/json-patch+json":
                result = apply_json_patch(current, patch)
                # Operations can put a deep value at a deep path: the result must fit the bound
                # too. (A merge is never deeper than the deeper of its two inputs.)
                decoding.check_depth(result, "the patched object")
            elif content_type == "application/merge-patch+json":
                result = apply_merge_patch(current, patch)
            elif content_type == "application/strategic-merge-patch+json":
                if not isinstance(patch, dict):
                    raise PatchError("a strategic merge patch must be a JSON object")
                result = apply_strategic_merge_patch(current, patch, type_key)
            else:
                raise errors.unsupported_media_type(content_type)
        except PatchTooLarge as e:
            raise errors.APIError(413, "RequestEntityTooLarge", str(e)) from None
        except PatchError as e:
            raise errors.APIError(
                422 if "test" in str(e) else 400, "Invalid" if "test" in str(e) else "BadRequest", str(e)
            ) from None
        except RecursionError:  # a safety net: decoding already bounds the depth of both sides
            raise decoding.too_deep("the patched object") from None
        if not isinstance(result, dict):
            raise errors.bad_request("the patched result is not an object")
        return result

    # -- watch -------------------------------------------------------------------------------

    async def _watch(
        self,
        request: Request,
        rt: ResourceType,
        ns: str | None,
        opts: ListOptions,
        as_table: bool = False,
        include: str = "Metadata",
        metadata_only: bool = False,
    ) -> Response:
        try:
            watcher, initial, end_rev = await self.storage.watch(rt, ns, opts)
        except errors.APIError as e:
            if e.code != 410:
                raise
            # Upstream answers a too-old resourceVersion with a 200 stream holding one
            # ERROR event; clients (informers) then relist.
            line = orjson.dumps({"type": "ERROR", "object": e.to_status()}) + b"\n"
            return Response(line, media_type=JSON)
        timeout = opts.timeout_seconds
        if timeout is None or timeout <= 0:
            timeout = int(self.min_watch_timeout * (1 + random.random()))
        kind, api_version = rt.kind, rt.api_version
        # Bookmarks carry an empty object of the watched type: for a metadata watch, that type.
        mark_kind, mark_api_version = (
            (partial.OBJECT, partial.API_VERSION) if metadata_only else (kind, api_version)
        )

        def bookmark(rev: int, initial_end: bool = False) -> bytes:
            meta: Obj = {"resourceVersion": str(rev)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return (
                orjson.dumps(
                    {
                        "type": "BOOKMARK",
                        "object": {"kind": mark_kind, "apiVersion": mark_api_version, "metadata": meta},
                    }
                )
                + b"\n"
            )

        def encode(item: Event | Bookmark) -> bytes:
            if isinstance(item, Bookmark):
                return bookmark(item.rev)
            entry = item.entry
            if as_table:  # kubectl get -w: each event's object is a Table with one row
                table = tables.table(kind, [entry.obj], {"resourceVersion": str(entry.rev)}, include)
                return orjson.dumps({"type": item.type, "object": table}) + b"\n"
            if metadata_only:  # a metadata informer: each object as a PartialObjectMetadata
                return orjson.dumps({"type": item.type, "object": partial.of_object(entry.obj)}) + b"\n"
            return b'{"type":"' + item.type.encode() + b'","object":' + entry.raw + b"}\n"

        async def stream() -> AsyncIterator[bytes]:
            """Initial events, then live ones in batches, until the deadline or a Closed.

            A closed watch (its client fell behind, or the server is stopping) just
            ends the stream, as upstream does; the client re-watches or relists.
            """
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            try:
                if initial:
                    yield b"".join(encode(e) for e in initial)
                if end_rev is not None:
                    yield bookmark(end_rev, initial_end=True)
                while (remaining := deadline - loop.time()) > 0:
                    try:
                        item = await asyncio.wait_for(watcher.queue.get(), remaining)
                    except TimeoutError:
                        return
                    batch: list[bytes] = []
                    size = 0
                    # Whatever else is waiting goes out in the same chunk (bounded, so a
                    # slow client holds at most one batch in the server's write buffer).
                    while not isinstance(item, Closed):
                        batch.append(encode(item))
                        size += len(batch[-1])
                        if watcher.queue.empty() or size >= _WATCH_BATCH_BYTES:
                            break
                        item = watcher.queue.get_nowait()
                    if batch:
                        yield b"".join(batch)
                    if isinstance(item, Closed):
                        return
            finally:
                watcher.close()

        return StreamingResponse(stream(), media_type=JSON, headers={"Transfer-Encoding": "chunked"})

    # -- bodies ------------------------------------------------------------------------------

    async def _raw_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            raise errors.request_entity_too_large(self.max_body_bytes)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise errors.request_entity_too_large(self.max_body_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _content_type(request: Request) -> str:
        return request.headers.get("content-type", JSON).split(";")[0].strip().lower() or JSON

    async def _body(self, request: Request) -> Obj:
        """A body that must be an object (JSON, YAML or protobuf; ``decoding.py`` bounds it)."""
        decoded = decoding.decode_object(await self._raw_body(request), self._content_type(request))
        body: Obj = decoded.value
        return body

    async def _write_body(self, request: Request, rt: ResourceType, query: dict[str, str]) -> Obj:
        """The body of a create or update, decoded, with unknown fields dealt with per fieldValidation."""
        content_type = self._content_type(request)
        raw = await self._raw_body(request)
        mode, explicit = fieldvalidation.directive(query)
        want_duplicates = explicit and mode != fieldvalidation.IGNORE
        decoded = decoding.decode_object(raw, content_type, duplicates=want_duplicates)
        body: Obj = decoded.value
        self._validate_fields(request, rt, body, query, decoded.duplicates if want_duplicates else [])
        return body

    async def _optional_body(self, request: Request) -> Obj | None:
        raw = await self._raw_body(request)
        if not raw.strip():
            return None
        body: Obj = decoding.decode_object(raw, self._content_type(request)).value
        return body

    def _check_kind(self, rt: ResourceType, body: Obj, *, required: bool = False) -> None:
        """The body's kind/apiVersion must name the resource of the URL (or be left out)."""
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if required and (not kind or not api_version):
            raise errors.bad_request("the body must set both apiVersion and kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f'the kind in the body ("{kind}") does not match the resource of the request '
                f'({rt.plural}, kind "{rt.kind}")'
            )
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        body["kind"], body["apiVersion"] = rt.kind, rt.api_version


def _success(rt: ResourceType, obj: Obj) -> Obj:
    details: Obj = {"name": obj["metadata"].get("name"), "kind": rt.plural, "uid": obj["metadata"].get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
