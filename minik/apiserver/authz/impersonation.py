"""Impersonation: act as another user (``kubectl --as=bob --as-group=devs``).

A client may send, with its own credentials::

    Impersonate-User: bob                      (or system:serviceaccount:<ns>:<name>)
    Impersonate-Group: devs                    (repeatable)
    Impersonate-Uid: 1234
    Impersonate-Extra-<key>: <value>           (repeatable)

and the request is then served -- authorized, admitted, recorded -- as that user. Each
part must be allowed to the real caller by the ``impersonate`` verb, checked one by one
as upstream: on ``users`` (by name), ``groups``, ``serviceaccounts`` (in their
namespace), ``uids`` and ``userextras/<key>`` (``authentication.k8s.io``). A denial is
the usual 403, naming the first part that was refused.

The impersonated user is in ``system:authenticated`` unless the client named
``system:authenticated`` or ``system:unauthenticated`` itself; a ServiceAccount without
named groups gets its fixed groups. minik keeps only the name and the groups (the uid and
extras are authorized, then dropped: nothing in minik reads them yet).

One deliberate difference: groups, uid or extras without ``Impersonate-User`` answer
``400 Bad Request`` where upstream answers 500 -- it is the client's mistake.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import unquote

from starlette.datastructures import Headers

from minik.api import errors, rbac
from minik.api.rbac import Attributes, Decision, UserInfo

_PREFIX = b"impersonate-"
_EXTRA = "impersonate-extra-"


class Authorizes(Protocol):
    def check(self, attrs: Attributes) -> None: ...

    def authorize(self, attrs: Attributes) -> Decision: ...


def requested(headers: Headers) -> bool:
    """Whether the request asks to impersonate anyone (one pass over the raw headers)."""
    return any(key.startswith(_PREFIX) for key, _ in headers.raw)


def _service_account(name: str) -> tuple[str, str] | None:
    """``system:serviceaccount:<ns>:<name>`` → (ns, name)."""
    prefix = "system:serviceaccount:"
    if not name.startswith(prefix):
        return None
    namespace, sep, sa = name[len(prefix) :].partition(":")
    if not sep or not namespace or not sa or ":" in sa:
        return None
    return namespace, sa


def impersonate(chain: Authorizes, requestor: UserInfo, headers: Headers) -> UserInfo:
    """The user the request acts as; 403 if ``requestor`` may not impersonate it."""
    name = headers.get("impersonate-user", "")
    groups_asked = headers.getlist("impersonate-group")
    uid = headers.get("impersonate-uid", "")
    extras = [(unquote(k[len(_EXTRA) :]), v) for k, v in headers.items() if k.startswith(_EXTRA)]
    if not name:
        if groups_asked or uid or extras:
            raise errors.bad_request(
                "Impersonate-Group, Impersonate-Uid and Impersonate-Extra-* need Impersonate-User"
            )
        return requestor

    def allowed(resource: str, target: str, *, group: str = "", namespace: str = "", sub: str = "") -> None:
        chain.check(
            Attributes(
                requestor,
                "impersonate",
                api_group=group,
                resource=resource,
                subresource=sub,
                name=target,
                namespace=namespace,
            )
        )

    groups: list[str] = []
    service_account = _service_account(name)
    if service_account is not None:
        allowed("serviceaccounts", service_account[1], namespace=service_account[0])
        if not groups_asked:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{service_account[0]}"]
    else:
        allowed("users", name)
    for group in groups_asked:
        allowed("groups", group)
        groups.append(group)
    for key, value in extras:
        allowed("userextras", value, group="authentication.k8s.io", sub=key)
    if uid:
        allowed("uids", uid, group="authentication.k8s.io")
    if name != rbac.ANONYMOUS:
        if rbac.AUTHENTICATED not in groups and rbac.UNAUTHENTICATED not in groups:
            groups.append(rbac.AUTHENTICATED)
    elif rbac.UNAUTHENTICATED not in groups:
        groups.append(rbac.UNAUTHENTICATED)
    return UserInfo(name, tuple(groups))
