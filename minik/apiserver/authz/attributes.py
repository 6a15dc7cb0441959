"""What a request asks to do, read from its method and URL (upstream's ``RequestInfo``).

The authorizer does not look at bodies: the method, the path and two query parameters say
everything it needs::

    GET    /api/v1/namespaces/web/pods                  list   pods          in web
    GET    /api/v1/namespaces/web/pods?watch=true       watch  pods          in web
    GET    /api/v1/watch/namespaces/web/pods            watch  pods          in web
    GET    /api/v1/namespaces/web/pods?fieldSelector=metadata.name=a
                                                        list   pods "a"      in web
    POST   /api/v1/namespaces/web/pods                  create pods          in web
    GET    /api/v1/namespaces/web/pods/a/log            get    pods/log "a"  in web
    DELETE /api/v1/namespaces/web/pods                  deletecollection pods in web
    GET    /api/v1/namespaces/web                       get    namespaces "web" in web
    GET    /apis/apps/v1/deployments                    list   deployments.apps (all namespaces)
    GET    /healthz, /version, /apis, /api/v1           get    path (a non-resource request)

Two details are easy to miss and both are upstream's: a namespace's own URL carries the
namespace (so a RoleBinding in ``web`` may grant ``get`` on the namespace ``web``), and a
list filtered to one name is authorized as a request for that name (so a rule with
``resourceNames`` lets kubectl ``get pod a -w`` watch it).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

from minik.api import rbac
from minik.api.rbac import Attributes, UserInfo

#: The user of the request being served (None: the API server itself, e.g. at start-up).
#: Set by the apiserver's authentication step; read where upstream reads the user from the
#: request context -- the escalation checks in the RBAC kinds' write path.
current_user: ContextVar[UserInfo | None] = ContextVar("minik_current_user", default=None)

_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
#: Subresources a WebSocket GET *creates* (upstream ≥ 1.31 checks ``create`` for them).
_STREAMING_SUBRESOURCES = ("exec", "attach", "portforward")


#: Who a request is when the API server runs without any authenticator (tests only).
ANONYMOUS = UserInfo(rbac.ANONYMOUS, (rbac.UNAUTHENTICATED,))


def _field_selector_name(selector: str) -> str:
    """The name a ``fieldSelector`` pins (``metadata.name=a``), or ""."""
    for term in selector.split(","):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name" and not key.endswith("!"):
            name = value.strip()
            if name not in (".", "..") and "/" not in name and "%" not in name:
                return name
    return ""


def request_attributes(
    user: UserInfo,
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    *,
    websocket: bool = False,
) -> Attributes:
    """The attributes of one request, as upstream's ``RequestInfoFactory`` computes them.

    ``query`` is the parsed query (``{"watch": "true", "fieldSelector": ...}``) and must be
    the very mapping the handler reads (``dict(request.query_params)``: blank values kept,
    the last repeat wins). Parsed any other way, ``?fieldSelector=metadata.name%3Da&fieldSelector=``
    would be authorized as a request for ``a`` and then served as a list of everything.
    It is read only for the one case that needs it, a GET of a collection.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return Attributes(user, method.lower(), resource_request=False, path=path)
    group = parts[1] if parts[0] == "apis" else ""
    rest = parts[2:] if parts[0] == "apis" else parts[1:]
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method.upper(), "")
    if rest and rest[0] in ("watch", "proxy"):
        if len(rest) < 2:
            return Attributes(user, method.lower(), resource_request=False, path=path)
        # The /watch/ prefix means ``watch`` only on a GET (the router answers 405 to any other
        # method there); a POST under it is a ``create``, never a ``watch`` that slips past RBAC.
        if rest[0] == "proxy" or verb == "get":
            verb = rest[0]
        rest = rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    if not name and verb == "get":
        query = query or {}
        verb = "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
        name = _field_selector_name(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    if websocket and subresource in _STREAMING_SUBRESOURCES:
        verb = "create"
    return Attributes(
        user,
        verb,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
    )
