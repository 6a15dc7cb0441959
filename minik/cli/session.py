"""One ``minikctl`` invocation's connection state: config, clients, consoles, discovery.

Every verb receives a :class:`Session`. It loads the kubeconfig lazily (so
``minikctl --help`` and ``config view`` never need a server), holds one
:class:`~minik.client.rest.APIClient` for the typed verbs and one raw
:class:`httpx.AsyncClient` for the requests the typed client does not cover:
asking for a server-side ``Table`` (a different ``Accept`` header), streaming
plain-text logs, and discovery documents.

**Resource names.** ``get po``, ``get deployments.apps``, ``get Deployment``
resolve through the built-in table first (:func:`minik.client.kinds.lookup`),
then through the server's legacy discovery (``/api/v1``, ``/apis/<g>/<v>``),
so a real cluster's other resources (CRDs included) work too.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from rich.console import Console

from minik import __version__
from minik.cli.errors import CLIError
from minik.client import kinds
from minik.client.errors import APIConnectionError, error_from_status
from minik.client.kinds import ResourceRef
from minik.client.kubeconfig import ClientConfig, load_kubeconfig
from minik.client.rest import APIClient

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@dataclass
class APIResource:
    """One entry of a discovery ``APIResourceList``."""

    ref: ResourceRef
    singular: str
    verbs: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass
class Session:
    """Flags shared by every verb plus lazily built clients (see module docs)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace_flag: str | None = None
    request_timeout: float = 30.0
    watch_timeout: float | None = None
    console: Console = field(default_factory=lambda: Console(soft_wrap=True, highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True, highlight=False))
    _config: ClientConfig | None = None
    _client: APIClient | None = None
    _http: httpx.AsyncClient | None = None
    _discovery: list[APIResource] | None = None

    # -- configuration ----------------------------------------------------------------------------

    @property
    def config(self) -> ClientConfig:
        if self._config is None:
            self._config = load_kubeconfig(self.kubeconfig, context=self.context)
        return self._config

    def known_server(self) -> str | None:
        """The server URL if the kubeconfig was loaded (for error messages)."""
        return self._config.server if self._config is not None else None

    @property
    def namespace(self) -> str:
        """``-n`` if given, else the kubeconfig context's namespace."""
        return self.namespace_flag or self.config.namespace

    # -- clients ----------------------------------------------------------------------------------

    @property
    def client(self) -> APIClient:
        if self._client is None:
            self._client = APIClient(
                self.config, timeout=self.request_timeout, user_agent=f"minikctl/{__version__}"
            )
        return self._client

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            cfg = self.config
            headers = {"User-Agent": f"minikctl/{__version__}"}
            if cfg.token:
                headers["Authorization"] = f"Bearer {cfg.token}"
            self._http = httpx.AsyncClient(
                base_url=cfg.server,
                headers=headers,
                verify=cfg.ssl_context(),
                timeout=httpx.Timeout(self.request_timeout),
            )
        return self._http

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for a WebSocket connection (``None`` for plain http)."""
        cfg = self.config
        if not cfg.server.startswith("https://"):
            return None
        verify = cfg.ssl_context()
        if isinstance(verify, ssl.SSLContext):
            return verify
        ctx = ssl.create_default_context()
        if verify is False:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def raw(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        accept: str = "application/json",
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """One request on the raw client; error answers become typed exceptions."""
        try:
            kwargs: dict[str, Any] = {"params": params, "headers": {"Accept": accept}}
            if timeout is not None:
                kwargs["timeout"] = timeout
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"{method} {self.config.server}{path}: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise error_response(response)
        return response

    async def get_json(self, path: str, *, params: Any = None, accept: str = "application/json") -> Any:
        response = await self.raw("GET", path, params=params, accept=accept)
        return orjson.loads(response.content) if response.content else None

    # -- resources --------------------------------------------------------------------------------

    async def discovery(self) -> list[APIResource]:
        """Every top-level resource the server serves, from legacy discovery."""
        if self._discovery is not None:
            return self._discovery
        found: list[APIResource] = []
        versions: list[tuple[str, str]] = [("", v) for v in (await self.get_json("/api")).get("versions", [])]
        for group in (await self.get_json("/apis")).get("groups", []):
            preferred = (group.get("preferredVersion") or {}).get("version")
            for version in group.get("versions", []):
                if version.get("version") == preferred or not preferred:
                    versions.append((group["name"], version["version"]))
        for group_name, version_name in versions:
            path = f"/apis/{group_name}/{version_name}" if group_name else f"/api/{version_name}"
            doc = await self.get_json(path)
            for res in doc.get("resources", []):
                if "/" in res["name"]:
                    continue  # a subresource
                ref = ResourceRef(
                    group_name,
                    version_name,
                    res["name"],
                    res["kind"],
                    bool(res.get("namespaced")),
                    tuple(res.get("shortNames") or ()),
                )
                found.append(
                    APIResource(
                        ref,
                        res.get("singularName") or res["kind"].lower(),
                        tuple(res.get("verbs") or ()),
                        tuple(res.get("categories") or ()),
                    )
                )
        self._discovery = found
        return found

    async def resolve(self, name: str) -> ResourceRef:
        """A resource by plural, singular, kind, short name or ``plural.group``."""
        try:
            return kinds.lookup(name)
        except KeyError:
            pass
        wanted = name.lower()
        for res in await self.discovery():
            ref = res.ref
            names = {ref.plural, res.singular, ref.kind.lower(), *ref.short_names, ref.group_resource}
            if wanted in names:
                return ref
        raise CLIError(
            f'the server doesn\'t have a resource type "{name}"',
            hint="minikctl api-resources lists the resource types this server serves",
        )

    async def resolve_many(self, name: str) -> list[ResourceRef]:
        """Like :meth:`resolve`, but a category (``all``) expands to its resources."""
        try:
            return [await self.resolve(name)]
        except CLIError:
            members = [r.ref for r in await self.discovery() if name.lower() in r.categories]
            if not members:
                raise
            return members

    async def resolve_kind(self, api_version: str, kind: str) -> ResourceRef:
        """The resource of a manifest's ``apiVersion``/``kind``."""
        try:
            return kinds.for_kind(api_version, kind)
        except KeyError:
            pass
        for res in await self.discovery():
            if res.ref.api_version == api_version and res.ref.kind == kind:
                return res.ref
        raise CLIError(
            f'no resource for kind "{kind}" in version "{api_version}" on this server',
            hint="check apiVersion/kind in the manifest; minikctl api-resources lists what exists",
        )


def error_response(response: httpx.Response) -> Exception:
    """The typed exception for an HTTP error answer."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    text = response.text[:300] if body is None else ""
    return error_from_status(
        response.status_code,
        body,
        headers=dict(response.headers),
        fallback_message=f"the server responded with HTTP {response.status_code}"
        + (f": {text}" if text else ""),
    )


def kind_name(ref: ResourceRef) -> str:
    """How kubectl names objects in messages: ``pod``, ``deployment.apps``."""
    return f"{ref.kind.lower()}.{ref.group}" if ref.group else ref.kind.lower()
