"""From a URL and an HTTP method to the handler that serves it: the routing table.

Every Kubernetes URL has the same grammar (upstream's ``RequestInfo``)::

    /api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
    /apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]

:func:`parse_path` splits it. The HTTP method and the parsed path give the API verb,
as upstream names it: GET on a collection is ``list`` (``watch`` with ``?watch=true``),
on an object ``get``; POST ``create``; PUT ``update``; PATCH ``patch``; DELETE
``delete``, or ``deletecollection`` on a collection. :data:`ROUTES` then maps
(verb, collection or object, subresource) to a :class:`~minik.apiserver.handlers.Handlers`
method. Serving a new subresource is one row here and one handler there; a
combination without a row is ``405 MethodNotAllowed``.

``pods/log`` and ``pods/exec`` stream to the kubelet and are served by ``podproxy.py``'s
own routes; only their other methods reach this table (and get the 405).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from minik.api import errors
from minik.apiserver import partial
from minik.apiserver.handlers import Call, Handlers
from minik.apiserver.registry import ResourceType
from minik.apiserver.rest import dry_run_requested

Target = Literal["collection", "object"]
COLLECTION: Target = "collection"
OBJECT: Target = "object"

#: A handler: an unbound :class:`Handlers` method.
Handler = Callable[[Handlers, Call], Awaitable[Response]]


@dataclass
class RequestInfo:
    """The parts of a resource URL."""

    group: str
    version: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    #: The URL used the deprecated ``/watch/`` prefix some old clients send.
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


def check_url(method: str, rt: ResourceType, info: RequestInfo) -> None:
    """Refuse the URLs upstream registers no route for, before any handler sees them.

    A ``/watch/`` URL serves GET only (405 otherwise): the prefix turns the request into a
    watch, which is what the authorizer was asked about, so a POST or DELETE under it must
    not reach a handler that writes. And a namespaced object has no URL outside its
    namespace (``/api/v1/pods/x/eviction``): 404, not a handler run without a namespace.
    """
    if info.watch_path and method != "GET":
        raise errors.method_not_allowed(f"{method} is not supported on a watch URL")
    if rt.namespaced and info.namespace is None and info.name is not None:
        raise errors.no_such_resource("the server could not find the requested resource")


#: The verbs of the HTTP methods other than GET, on (collection, object).
_WRITE_VERBS = {
    "POST": ("create", "create"),
    "PUT": ("update", "update"),
    "PATCH": ("patch", "patch"),
    "DELETE": ("deletecollection", "delete"),
}


def api_verb(method: str, target: Target, watch: bool) -> str | None:
    """The API verb of an HTTP method on a collection or an object (None: no verb)."""
    if method == "GET":
        if target == OBJECT:
            return "get"
        return "watch" if watch else "list"
    verbs = _WRITE_VERBS.get(method)
    if verbs is None:
        return None
    return verbs[0] if target == COLLECTION else verbs[1]


@dataclass(frozen=True)
class Route:
    """A row's answer: the API verb (for metrics and logs) and the handler that serves it."""

    verb: str
    handler: Handler


#: (verb, collection or object, subresource) → route. One row per served combination.
ROUTES: dict[tuple[str, Target, str | None], Route] = {
    ("list", COLLECTION, None): Route("list", Handlers.list),
    ("watch", COLLECTION, None): Route("watch", Handlers.watch),
    ("create", COLLECTION, None): Route("create", Handlers.create),
    ("deletecollection", COLLECTION, None): Route("deletecollection", Handlers.delete_collection),
    ("get", OBJECT, None): Route("get", Handlers.get),
    ("update", OBJECT, None): Route("update", Handlers.update),
    ("patch", OBJECT, None): Route("patch", Handlers.patch),
    ("delete", OBJECT, None): Route("delete", Handlers.delete),
    ("get", OBJECT, "status"): Route("get", Handlers.get_status),
    ("update", OBJECT, "status"): Route("update", Handlers.update_status),
    ("patch", OBJECT, "status"): Route("patch", Handlers.patch_status),
    ("get", OBJECT, "scale"): Route("get", Handlers.get_scale),
    ("update", OBJECT, "scale"): Route("update", Handlers.update_scale),
    ("patch", OBJECT, "scale"): Route("patch", Handlers.patch_scale),
    ("create", OBJECT, "binding"): Route("create", Handlers.bind),
    ("create", OBJECT, "eviction"): Route("create", Handlers.evict),
    ("update", OBJECT, "finalize"): Route("update", Handlers.finalize),
}


def resolve(method: str, rt: ResourceType, name: str | None, subresource: str | None, watch: bool) -> Route:
    """The route of a request, or the ``405`` upstream answers for a method a URL does not serve."""
    target = COLLECTION if name is None else OBJECT
    verb = api_verb(method, target, watch)
    route = ROUTES.get((verb, target, subresource)) if verb is not None else None
    if route is not None:
        return route
    if target == COLLECTION:
        raise errors.method_not_allowed(f"{method} is not supported on a collection")
    where = rt.plural if subresource is None else f"{rt.plural}/{subresource}"
    raise errors.method_not_allowed(f"{method} is not supported on {where}")


def prepare(request: Request, rt: ResourceType, info: RequestInfo, query: dict[str, str]) -> Call:
    """The :class:`Call` for a resource request; rejects what no verb may ask for.

    ``dryRun`` must be ``All`` (400/422 otherwise), and an object URL cannot answer a
    PartialObjectMetadataList (406) — whatever the method, as upstream.
    """
    dry_run = dry_run_requested(query, request.method)
    accept = request.headers.get("accept", "")
    metadata_only = partial.requested(accept)  # PartialObjectMetadata(List), or None
    if info.name is not None and metadata_only == partial.LIST:
        raise partial.not_acceptable(metadata_only, collection=False)
    return Call(
        request=request,
        rt=rt,
        namespace=info.namespace if rt.namespaced else None,
        name=info.name,
        subresource=info.subresource,
        query=query,
        dry_run=dry_run,
        accept=accept,
        metadata_only=metadata_only,
    )
