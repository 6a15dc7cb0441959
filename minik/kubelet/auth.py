"""Who may call the kubelet's API: upstream's *webhook* authentication and authorization.

The kubelet runs commands in containers and streams their logs, so its API is as
powerful as ``pods/exec`` itself. Every request (but ``/healthz``) goes through two
steps, each delegated to the API server -- the kubelet keeps no user list of its own:

1. **Authentication** -- who is calling?

   * a *client certificate* signed by the CA of ``--client-ca-file`` (checked during the
     TLS handshake; ``CN`` is the user, each ``O`` a group). This is how the API server
     itself calls (``CN=kube-apiserver-kubelet-client``);
   * a *bearer token*, sent to the API server in a ``TokenReview``
     (``authentication.k8s.io/v1``); the answer is cached for 2 minutes (30 seconds
     when the token is rejected), as upstream's ``--authentication-token-webhook-cache-ttl``;
   * nothing: ``system:anonymous`` if ``--anonymous-auth`` is on, else **401**.
     A token that is presented but rejected is always 401, never anonymous.

2. **Authorization** -- may this user do this to this node? The request becomes
   attributes (:func:`request_attributes`): resource ``nodes``, the node's name, a
   subresource from the path (``stats``, ``metrics``, ``log``, anything else ``proxy``)
   and a verb from the HTTP method (GET → ``get``, POST → ``create`` ...), and the kubelet
   asks the API server with a ``SubjectAccessReview`` (``authorization.k8s.io/v1``).
   Allowed answers are cached for 5 minutes, denied ones for 30 seconds. Denied → **403**.

   *Fail closed*: if the API server does not serve SubjectAccessReview (a minik from before
   its authorizer), the kubelet allows only members of ``system:masters`` (the admin) and
   denies everyone else. ``--authorization-mode AlwaysAllow`` skips this step (tests only).

   Who is allowed is RBAC's business: the default ClusterRole ``system:kubelet-api-admin``
   grants the kubelet's API, and the default policy binds it to the API server's own
   identity ``kube-apiserver-kubelet-client``. (An API server in ``AlwaysAllow`` mode
   answers every review with "allowed".)
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from starlette.types import Scope

from minik.api.identity import ANONYMOUS, MASTERS, UNAUTHENTICATED, UserInfo
from minik.client.certauth import ClientCertAuthenticator
from minik.client.errors import APIConnectionError, APIError, NotFoundError
from minik.client.tlsscope import client_certificate

log = logging.getLogger(__name__)

TOKEN_TTL, TOKEN_FAILURE_TTL = 120.0, 30.0
ALLOWED_TTL, DENIED_TTL = 300.0, 30.0
_CACHE_LIMIT = 4096

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"))


class Requester(Protocol):
    """The one thing the kubelet needs from its API client: POST a review, get the answer."""

    async def request(self, method: str, path: str, *, body: Any = None) -> Any: ...


@dataclass(frozen=True)
class Attributes:
    """What a kubelet request does, in SubjectAccessReview's terms (``resource`` is always ``nodes``)."""

    verb: str
    subresource: str
    node: str

    def describe(self, user: UserInfo) -> str:
        return f"user={user.name}, verb={self.verb}, resource=nodes, subresource={self.subresource}"


def request_attributes(method: str, path: str, node: str) -> Attributes:
    """Upstream's mapping: ``/stats`` → nodes/stats, ``/metrics`` → nodes/metrics,
    ``/logs`` → nodes/log, everything else (``/pods``, ``/exec``, ``/containerLogs``,
    ``/run``, ``/attach``, ``/portForward``) → nodes/proxy."""
    subresource = "proxy"
    for prefix, name in _SUBRESOURCES:
        if path == prefix or path.startswith(prefix + "/"):
            subresource = name
    return Attributes(_VERBS.get(method.upper(), method.lower()), subresource, node)


K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """A small dict whose entries expire; each entry carries its own lifetime."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        if len(self._entries) >= _CACHE_LIMIT:
            self._entries.clear()
        self._entries[key] = (self._clock() + ttl, value)


@dataclass(frozen=True)
class Denial:
    """Why a request is refused: the HTTP code (401/403/503) and upstream's message."""

    code: int
    reason: str
    message: str


class KubeletAuth:
    """Authenticate and authorize one kubelet request (see the module docs)."""

    def __init__(
        self,
        api: Requester,
        *,
        client_ca: ClientCertAuthenticator | None,
        anonymous: bool = False,
        authorization_mode: str = "Webhook",
        clock: Any = time.monotonic,
    ) -> None:
        self.api = api
        self.client_ca = client_ca
        self.anonymous = anonymous
        self.authorization_mode = authorization_mode
        self._tokens: ExpiringCache[str, UserInfo | bool] = ExpiringCache(clock)
        self._decisions: ExpiringCache[tuple[UserInfo, Attributes], bool] = ExpiringCache(clock)

    async def check(self, scope: Scope, headers: Mapping[str, str], attrs: Attributes) -> Denial | None:
        """None if the request may go on, else why not."""
        try:
            user = await self.authenticate(scope, headers)
        except (APIError, APIConnectionError) as exc:
            log.warning("TokenReview failed: %s", exc)
            return Denial(401, "Unauthorized", "Unauthorized")
        if user is None:
            return Denial(401, "Unauthorized", "Unauthorized")
        try:
            allowed = await self.authorize(user, attrs)
        except (APIError, APIConnectionError) as exc:
            log.warning("SubjectAccessReview failed: %s", exc)
            return Denial(503, "ServiceUnavailable", f"Authorization error ({attrs.describe(user)}): {exc}")
        if not allowed:
            return Denial(403, "Forbidden", f"Forbidden ({attrs.describe(user)})")
        return None

    # -- authentication ---------------------------------------------------------------------------

    async def authenticate(self, scope: Scope, headers: Mapping[str, str]) -> UserInfo | None:
        """The caller, or None (→ 401). Certificate first, then bearer token, then anonymous."""
        pem = client_certificate(scope)
        if pem and self.client_ca is not None:
            user = self.client_ca.authenticate(pem)
            if user is not None:
                return user
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return await self._review_token(token)
        if self.anonymous:
            return UserInfo(ANONYMOUS, (UNAUTHENTICATED,))
        return None

    async def _review_token(self, token: str) -> UserInfo | None:
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep the token itself
        cached = self._tokens.get(key)
        if cached is not None:
            return cached if isinstance(cached, UserInfo) else None
        review = await self._post(
            TOKEN_REVIEWS,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
        )
        status = (review or {}).get("status") or {}
        if not status.get("authenticated"):
            self._tokens.put(key, False, TOKEN_FAILURE_TTL)
            return None
        found = status.get("user") or {}
        user = UserInfo.of(
            str(found.get("username", "")),
            [str(g) for g in found.get("groups") or []],
            str(found.get("uid", "")),
            found.get("extra") or {},
        )
        self._tokens.put(key, user, TOKEN_TTL)
        return user

    async def _post(self, path: str, body: Any) -> Any:
        """POST a review; once more if the connection broke (a review changes nothing, so a
        retry is safe -- upstream's webhook clients retry too). A kept-alive connection the
        API server has just closed is the usual cause."""
        try:
            return await self.api.request("POST", path, body=body)
        except APIConnectionError:
            return await self.api.request("POST", path, body=body)

    # -- authorization ----------------------------------------------------------------------------

    async def authorize(self, user: UserInfo, attrs: Attributes) -> bool:
        if self.authorization_mode == "AlwaysAllow":
            return True
        cached = self._decisions.get((user, attrs))
        if cached is not None:
            return cached
        allowed = await self._review_access(user, attrs)
        self._decisions.put((user, attrs), allowed, ALLOWED_TTL if allowed else DENIED_TTL)
        return allowed

    async def _review_access(self, user: UserInfo, attrs: Attributes) -> bool:
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {
                "verb": attrs.verb,
                "resource": "nodes",
                "subresource": attrs.subresource,
                "name": attrs.node,
            },
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = user.extra_dict()
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            review = await self._post(ACCESS_REVIEWS, body)
        except NotFoundError:
            # No authorizer in this API server: fail closed, but for the cluster's masters.
            return MASTERS in user.groups
        return bool(((review or {}).get("status") or {}).get("allowed"))
