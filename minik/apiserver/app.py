"""The HTTP face of the API server: the ASGI entry point and the dispatcher.

Every API request takes the same path through :meth:`APIServer.dispatch`:
**authenticate** (a client certificate, a static or ServiceAccount bearer token, then
any impersonation — ``authn/``), **authorize** (RBAC — ``authz/``), **route** (the
non-resource paths — metrics, discovery, OpenAPI — or a resource URL: parse it, look
the resource up in the registry, pick the handler from the routing table) and
**serve** (the handler answers through the generic storage). Every failure becomes a
Kubernetes ``Status``.

The rooms around it, one job each:

* ``routing.py`` — the URL grammar and the table (verb, collection or object,
  subresource) → handler;
* ``handlers.py`` — one handler per verb and subresource;
* ``bodies.py`` — reading request bodies within a bound, decoding them
  (``decoding.py``), unknown fields per ``?fieldValidation=`` (``fieldvalidation.py``);
* ``patching.py`` — JSON, merge and strategic merge patches, server-side apply (``apply.py``);
* ``ownership.py`` — ``?fieldManager=`` and ``metadata.managedFields`` on writes;
* ``watchstream.py`` — a watch as a stream of JSON events;
* ``params.py``, ``responses.py`` — query options, JSON and ``Status`` answers;
* ``tables.py`` / ``partial.py`` — what ``Accept: …;as=Table`` (kubectl get) and
  ``as=PartialObjectMetadata[List]`` (metadata clients) get; ``warning.py`` — the
  ``Warning`` headers; ``podproxy.py`` — ``pods/log`` and ``pods/exec``.

Clients that ask for none of the extras (the controllers) pay for none of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.types import Receive, Scope, Send

from minik import KUBERNETES_VERSION, __version__
from minik.api import errors
from minik.api.identity import UserInfo
from minik.apiserver import (
    discovery,
    etcd,
    health,
    podproxy,
    routing,
    storage_errors,
    subresources,
    swagger,
    swagger_pb,
    warning,
)
from minik.apiserver.authn import endpoints as identity_endpoints
from minik.apiserver.authn.chain import Authenticator
from minik.apiserver.authn.serviceaccount import TokenIssuer
from minik.apiserver.authz import attributes, impersonation, reviews
from minik.apiserver.authz.authorizer import Chain, build_chain
from minik.apiserver.bodies import Bodies
from minik.apiserver.deadlines import CLIENT_CLOSED_REQUEST, DEFAULT_REQUEST_TIMEOUT, is_long_running, within
from minik.apiserver.handlers import Handlers
from minik.apiserver.kubeletclient import KubeletClientConfig
from minik.apiserver.metrics import Metrics
from minik.apiserver.openapi import OpenAPI
from minik.apiserver.params import flag
from minik.apiserver.registry import Registry
from minik.apiserver.responses import JSON, error_response, json_response
from minik.apiserver.rest import Storage

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")


def _needs_framework(path: str) -> bool:
    """Paths served by the FastAPI app's own routes rather than the API dispatcher."""
    return path in PUBLIC_PATHS or (
        path.startswith("/api/v1/namespaces/") and path.endswith(("/log", "/exec"))
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
        authorizer: Chain | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        token_issuer: TokenIssuer | None = None,
        kubelet_client: KubeletClientConfig | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.authn = authenticator
        self.token_issuer = token_issuer
        # pods/log and pods/exec: how to call kubelets (the --kubelet-* flags).
        self.kubelet_client = kubelet_client or KubeletClientConfig()
        self.authorizer = authorizer or build_chain(["AlwaysAllow"], lambda: storage.cache)
        self.request_timeout = request_timeout
        self.metrics = Metrics()
        self.bodies = Bodies(max_body_bytes)
        self.handlers = Handlers(storage, self.bodies, min_watch_timeout=min_watch_timeout)
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
        podproxy.install(
            app,
            authenticate=self._authenticate,
            find_kubelet=functools.partial(subresources.kubelet_endpoint, self.storage),
            kubelet_client=self.kubelet_client,
        )
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
        """Who is asking (``authn/``: 401 if nobody we know), then whether they may (``authz/``: 403).

        The user goes on ``request.state.user`` and into ``attributes.current_user``, where the
        RBAC kinds' escalation checks read it.
        """
        if request.url.path in PUBLIC_PATHS:
            return None
        if self.authn is None:
            user = attributes.ANONYMOUS
        else:
            found = self.authn.authenticate(request.scope, request.headers)
            if found is None:
                raise errors.unauthorized()
            user = found
        if impersonation.requested(request.headers):  # kubectl --as
            user = impersonation.impersonate(self.authorizer, user, request.headers)
        request.state.user = user
        attributes.current_user.set(user)
        if not self.authorizer.always_allows:
            scope = request.scope
            self.authorizer.check(
                attributes.request_attributes(
                    user,
                    scope.get("method", "GET"),
                    scope["path"],
                    dict(request.query_params),  # the very parse the handler reads
                    websocket=scope["type"] == "websocket",
                )
            )
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
        info = routing.parse_path(path)
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
        routing.check_url(method, rt, info)
        if info.watch_path:
            query["watch"] = "true"
        ns = info.namespace if rt.namespaced else None
        if identity_endpoints.handles(rt, info.subresource):  # TokenRequest, TokenReview, whoami
            response, verb = await identity_endpoints.serve(self, request, rt, ns, info.name), "create"
        elif rt.group == reviews.GROUP:  # access reviews: answered by the authorizer, never stored
            response, verb = await reviews.serve(self, request, rt, ns, info.name, query), "create"
        else:
            call = routing.prepare(request, rt, info, query)
            route = routing.resolve(method, rt, info.name, info.subresource, flag(query.get("watch")))
            response, verb = await route.handler(self.handlers, call), route.verb
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
