"""The REST client: typed verbs over Kubernetes URLs, objects as plain dicts.

:class:`APIClient` is a thin asynchronous layer over one shared
:class:`httpx.AsyncClient`. It speaks upstream Kubernetes REST exactly, so it
works against minik's API server and against a real one alike:

* ``get`` / ``list`` / ``create`` / ``update`` / ``update_status`` / ``patch`` /
  ``delete`` map one-to-one onto ``GET``/``POST``/``PUT``/``PATCH``/``DELETE``
  on the paths :class:`~minik.client.kinds.ResourceRef` builds;
* ``watch`` opens ``?watch=true`` and yields ``(type, object)`` events from the
  newline-delimited JSON stream;
* every error answer becomes a typed exception from :mod:`minik.client.errors`
  built from its ``Status`` body, and every transport failure becomes
  :class:`~minik.client.errors.APIConnectionError`.

**One client per process.** The ``AsyncClient`` keeps HTTP/1.1 connections
alive and pools them; every informer's watch holds one connection for as long
as it runs, so the pool is sized generously (100 by default). Creating a client
per request would pay a TLS handshake each time.

**No retries inside.** A failed ``update`` may or may not have been applied; a
``create`` retried after a timeout may hit ``AlreadyExists``. Only the caller
knows whether repeating is right, so the client reports and the caller decides
(the informer reconnects, the controller requeues with backoff).

**Watch streams and read timeouts.** A watch is a long GET whose body never
ends until the server's ``timeoutSeconds`` elapses. The read timeout is
therefore lifted for watches (set to ``timeoutSeconds`` plus a grace period
when one is given), and the stream is split into lines by the client itself:
HTTP chunk boundaries have nothing to do with event boundaries — one chunk may
carry half an event or three of them.

**410 Gone.** A watch from a resourceVersion the server no longer keeps fails
either immediately with HTTP 410 or, once the stream has started, with an
``ERROR`` event whose object is a ``Status`` with code 410. Both surface as
:class:`~minik.client.errors.GoneError`, the signal for an informer to relist.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

import httpx
import orjson

from minik import __version__
from minik.client.errors import APIConnectionError, APIError, GoneError, error_from_status
from minik.client.kinds import ResourceRef, resolve
from minik.client.kubeconfig import ClientConfig, load_kubeconfig
from minik.client.objects import Obj, name_of, namespace_of, uid_of

log = logging.getLogger(__name__)


#: An RFC 6902 JSON patch: a list of operations.
JSONPatch = list[dict[str, Any]]


class WatchEvent(NamedTuple):
    """One event of a watch stream; unpacks as ``(type, object)``.

    ``type`` is ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` (a
    bookmark's object carries only ``metadata.resourceVersion``). ``ERROR``
    events are never yielded: they are raised as exceptions.
    """

    type: str
    object: Obj


class PatchType(enum.StrEnum):
    """The four patch flavours and their Content-Types."""

    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


_PATCH_ALIASES: dict[str, PatchType] = {
    "merge": PatchType.MERGE,
    "strategic": PatchType.STRATEGIC,
    "json": PatchType.JSON,
    "apply": PatchType.APPLY,
}


def patch_type(value: PatchType | str) -> PatchType:
    """Accept a :class:`PatchType`, its short name (``merge``) or a Content-Type."""
    if isinstance(value, PatchType):
        return value
    if value in _PATCH_ALIASES:
        return _PATCH_ALIASES[value]
    try:
        return PatchType(value)
    except ValueError:
        raise ValueError(f"unknown patch type {value!r}; use one of {', '.join(_PATCH_ALIASES)}") from None


class EventStream(Protocol):
    """An async iterator of watch events that can be closed early."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def aclose(self) -> None: ...


class WatchStream:
    """The open watch returned by :meth:`APIClient.watch`.

    Iterate it with ``async for``; close it with ``async with`` (preferred) or
    :meth:`aclose` when stopping early, so the connection goes back to the
    pool right away instead of when the garbage collector finds it::

        async with client.watch(PODS, namespace="default", resource_version=rv) as events:
            async for event_type, pod in events:
                ...
    """

    def __init__(self, events: AsyncIterator[WatchEvent], close: Callable[[], Awaitable[None]]) -> None:
        self._events = events
        self._close = close

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events

    async def __anext__(self) -> WatchEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def split_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-assemble newline-delimited records from arbitrary byte chunks.

    Empty lines are skipped; a final record without a trailing newline is
    still yielded (some servers end the stream without one).
    """
    buffer = bytearray()
    async for chunk in chunks:
        buffer.extend(chunk)
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end]).strip()
            start = end + 1
            if line:
                yield line
        del buffer[:start]
    tail = bytes(buffer).strip()
    if tail:
        yield tail


def _params(**values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class APIClient:
    """An asynchronous client for one API server (see the module docs).

    ``resource`` arguments take a :class:`ResourceRef` (``kinds.PODS``) or any
    name :func:`minik.client.kinds.lookup` understands (``"pods"``, ``"Pod"``,
    ``"deployments.apps"``). Namespaced resources need a namespace for
    single-object verbs — passed explicitly or taken from the object's
    ``metadata.namespace`` — and the client never falls back to a default.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        timeout: float = 30.0,
        max_connections: int = 100,
        max_keepalive_connections: int = 50,
        watch_grace_seconds: float = 30.0,
        user_agent: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._timeout = timeout
        self._watch_grace = watch_grace_seconds
        headers = {"Accept": "application/json", "User-Agent": user_agent or f"minik/{__version__}"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.AsyncClient(
            base_url=config.server,
            headers=headers,
            verify=config.ssl_context(),
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=60.0,
            ),
            transport=transport,
        )

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, *, context: str | None = None, **kwargs: Any
    ) -> APIClient:
        """A client for the kubeconfig at ``path`` (default search order: see
        :func:`~minik.client.kubeconfig.default_kubeconfig_path`)."""
        return cls(load_kubeconfig(path, context=context), **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- plumbing ---------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request and decode the JSON answer; raise typed errors.

        Public for the odd path the typed verbs don't cover (``/version``,
        ``/healthz``, discovery).
        """
        headers = {}
        content: bytes | None = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = content_type
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"{method} {self.config.server}{path}: {_describe(exc)}") from exc
        log.debug("%s %s -> %d", method, path, response.status_code)
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.text

    @staticmethod
    def _namespace(ref: ResourceRef, namespace: str | None, obj: Obj | None = None) -> str | None:
        if not ref.namespaced:
            return None
        ns = namespace or (namespace_of(obj) if obj is not None else None)
        if not ns:
            raise ValueError(f"{ref} is namespaced: pass namespace= or set metadata.namespace")
        return ns

    # -- verbs ------------------------------------------------------------------------------------

    async def get(
        self,
        resource: ResourceRef | str,
        name: str,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> Obj:
        ref = resolve(resource)
        path = ref.path(namespace=self._namespace(ref, namespace), name=name, subresource=subresource)
        result: Obj = await self.request("GET", path)
        return result

    async def list(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        timeout_seconds: int | None = None,
    ) -> Obj:
        """One page (or all, without ``limit``) of a collection, as the server's ``*List``.

        ``namespace=None`` on a namespaced resource lists across all
        namespaces. For every page at once see :meth:`list_all`.
        """
        ref = resolve(resource)
        params = _params(
            labelSelector=label_selector or None,
            fieldSelector=field_selector or None,
            limit=limit,
            resourceVersion=resource_version,
            resourceVersionMatch=resource_version_match,
            timeoutSeconds=timeout_seconds,
        )
        params.update(_params(**{"continue": continue_ or None}))
        result: Obj = await self.request(
            "GET", ref.path(namespace=namespace if ref.namespaced else None), params=params
        )
        return result

    async def list_all(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> Obj:
        """Every page of a collection merged into one ``*List`` (see :func:`list_all`)."""
        return await list_all(
            self,
            resolve(resource),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            page_size=page_size,
        )

    async def create(
        self,
        resource: ResourceRef | str,
        obj: Obj,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        ref = resolve(resource)
        path = ref.path(namespace=self._namespace(ref, namespace, obj))
        params = _params(fieldManager=field_manager, dryRun="All" if dry_run else None)
        result: Obj = await self.request("POST", path, params=params, body=obj)
        return result

    async def update(
        self,
        resource: ResourceRef | str,
        obj: Obj,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """PUT the whole object. Its ``metadata.resourceVersion`` is the
        optimistic-concurrency precondition: stale → :class:`ConflictError`."""
        ref = resolve(resource)
        name = name_of(obj)
        if not name:
            raise ValueError("update needs metadata.name")
        path = ref.path(namespace=self._namespace(ref, namespace, obj), name=name, subresource=subresource)
        params = _params(fieldManager=field_manager, dryRun="All" if dry_run else None)
        result: Obj = await self.request("PUT", path, params=params, body=obj)
        return result

    async def update_status(
        self,
        resource: ResourceRef | str,
        obj: Obj,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> Obj:
        """PUT to the ``status`` subresource: only ``.status`` changes are kept."""
        return await self.update(
            resource, obj, namespace=namespace, subresource="status", field_manager=field_manager
        )

    async def patch(
        self,
        resource: ResourceRef | str,
        name: str,
        body: Obj | JSONPatch,
        *,
        namespace: str | None = None,
        type: PatchType | str = PatchType.MERGE,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """PATCH with ``type`` one of ``merge`` (RFC 7386, the default),
        ``strategic``, ``json`` (RFC 6902, ``body`` is a list) or ``apply``
        (server-side apply; needs ``field_manager``)."""
        ref = resolve(resource)
        kind = patch_type(type)
        if kind is PatchType.APPLY and not field_manager:
            raise ValueError("server-side apply needs field_manager")
        path = ref.path(namespace=self._namespace(ref, namespace), name=name, subresource=subresource)
        params = _params(fieldManager=field_manager, force=force, dryRun="All" if dry_run else None)
        result: Obj = await self.request("PATCH", path, params=params, body=body, content_type=kind.value)
        return result

    async def delete(
        self,
        resource: ResourceRef | str,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """DELETE one object. Returns what the server answers: a ``Status`` when
        the object is gone, or the object itself while deletion is graceful
        (``deletionTimestamp`` set, finalizers pending).

        ``propagation_policy`` is ``Foreground``, ``Background`` or ``Orphan``;
        ``preconditions`` may pin ``uid`` and/or ``resourceVersion``.
        """
        ref = resolve(resource)
        path = ref.path(namespace=self._namespace(ref, namespace), name=name)
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            if propagation_policy not in ("Foreground", "Background", "Orphan"):
                raise ValueError(
                    f"propagation_policy must be Foreground, Background or Orphan, not {propagation_policy!r}"
                )
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = dict(preconditions)
        if dry_run:
            options["dryRun"] = ["All"]
        result: Obj = await self.request("DELETE", path, body=options)
        return result

    async def create_binding(self, pod: Obj, node: str) -> Obj:
        """Bind a pod to a node: POST ``pods/<name>/binding`` with a v1 Binding.

        This is how the scheduler assigns ``spec.nodeName`` (a pod's spec is
        otherwise immutable). The pod's uid goes along as a precondition, so a
        pod deleted and re-created under the same name is not bound by mistake.
        """
        ref = resolve("pods")
        name = name_of(pod)
        namespace = self._namespace(ref, None, pod)
        meta: Obj = {"name": name, "namespace": namespace}
        uid = uid_of(pod)
        if uid:
            meta["uid"] = uid
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        path = ref.path(namespace=namespace, name=name, subresource="binding")
        result: Obj = await self.request("POST", path, body=binding)
        return result

    def watch(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> WatchStream:
        """Open a watch; see :class:`WatchStream` and the module docs.

        The request is sent on the first iteration. Iteration ends normally
        when the server closes the stream (``timeoutSeconds`` elapsed); it
        raises :class:`GoneError` when ``resource_version`` is too old, any
        other :class:`APIError` for an error answer or ``ERROR`` event, and
        :class:`APIConnectionError` when the connection fails or breaks.
        """
        ref = resolve(resource)
        params = _params(
            watch=True,
            labelSelector=label_selector or None,
            fieldSelector=field_selector or None,
            resourceVersion=resource_version,
            allowWatchBookmarks=True if allow_watch_bookmarks else None,
            timeoutSeconds=timeout_seconds,
        )
        path = ref.path(namespace=namespace if ref.namespaced else None)
        read_timeout = None if timeout_seconds is None else timeout_seconds + self._watch_grace
        timeout = httpx.Timeout(self._timeout, read=read_timeout)
        events = self._watch_events(path, params, timeout)
        return WatchStream(events, events.aclose)

    async def _watch_events(
        self, path: str, params: dict[str, str], timeout: httpx.Timeout
    ) -> AsyncGenerator[WatchEvent, None]:
        url = f"{self.config.server}{path}"
        try:
            async with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in split_lines(response.aiter_bytes()):
                    try:
                        event = orjson.loads(line)
                        event_type = str(event["type"])
                        obj = event["object"]
                    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                        raise APIConnectionError(f"watch {url}: malformed event {line[:200]!r}") from exc
                    if event_type == "ERROR":
                        raise error_from_status(None, obj, fallback_message="watch ERROR event")
                    yield WatchEvent(event_type, obj)
        except httpx.TransportError as exc:
            raise APIConnectionError(f"watch {url}: {_describe(exc)}") from exc


async def list_all(
    client: Any,
    resource: ResourceRef,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    page_size: int = 500,
) -> Obj:
    """List a whole collection page by page and merge it into one ``*List``.

    ``client`` is anything with :meth:`APIClient.list`'s signature. All pages
    of one paged list are a consistent snapshot at the first page's
    ``resourceVersion``, which the merged list carries. If the continue token
    expires half-way (410), the list starts over without paging, as
    client-go's pager does (``FullListIfExpired``).
    """
    selectors = {"namespace": namespace, "label_selector": label_selector, "field_selector": field_selector}
    items: list[Obj] = []
    first: Obj | None = None
    token: str | None = None
    while True:
        try:
            page: Obj = await client.list(resource, limit=page_size, continue_=token, **selectors)
        except GoneError:
            if token is None:
                raise
            log.info("continue token for %s expired while paging; listing without paging", resource)
            full: Obj = await client.list(resource, **selectors)
            return full
        if first is None:
            first = page
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            break
    assert first is not None
    meta = dict(first.get("metadata") or {})
    meta.pop("continue", None)
    meta.pop("remainingItemCount", None)
    return {
        "kind": first.get("kind") or resource.list_kind,
        "apiVersion": first.get("apiVersion") or resource.api_version,
        "metadata": meta,
        "items": items,
    }


def _error(response: httpx.Response) -> APIError:
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    text = response.text[:500] if body is None and response.content else ""
    headers = {k.lower(): v for k, v in response.headers.items()}
    return error_from_status(
        response.status_code,
        body,
        headers=headers,
        fallback_message=f"the server responded with HTTP {response.status_code}"
        + (f": {text}" if text else ""),
    )


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
