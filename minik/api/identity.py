"""Who a request comes from: upstream's ``user.Info``, and the names Kubernetes reserves.

Authentication turns whatever a request presents (a bearer token, a client certificate)
into a :class:`UserInfo`; authorization then decides what that user may do. A user is
only a name plus groups -- Kubernetes keeps no table of users. The *groups* carry most of
the meaning:

* ``system:authenticated`` -- every user who proved who they are (added by the
  authenticator chain, never by a credential itself);
* ``system:masters`` -- may do anything, whatever RBAC says (the admin's group);
* ``system:serviceaccounts`` and ``system:serviceaccounts:<namespace>`` -- every
  ServiceAccount, and those of one namespace.

A ServiceAccount's user name is ``system:serviceaccount:<namespace>:<name>`` (note the
singular), which is how a RoleBinding's ``kind: ServiceAccount`` subject finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"
SERVICE_ACCOUNTS = "system:serviceaccounts"
_SA_USER_PREFIX = "system:serviceaccount:"

#: Keys of ``extra`` a ServiceAccount token bound to a pod adds (upstream's names).
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated (or anonymous) user, as the authorizer and the reviews see it.

    Frozen and hashable, so an authorizer may cache decisions per user. ``extra`` holds
    upstream's "extra" attributes (a pod-bound token's pod name and uid...) as sorted
    ``(key, values)`` pairs; :meth:`extra_dict` gives them back as a mapping.
    """

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        groups: Sequence[str] = (),
        uid: str = "",
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> UserInfo:
        pairs = tuple(sorted((k, tuple(v)) for k, v in (extra or {}).items()))
        return cls(name, tuple(groups), uid, pairs)

    def extra_dict(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.extra}

    def authenticated(self) -> UserInfo:
        """This user with ``system:authenticated`` among its groups (once)."""
        if AUTHENTICATED in self.groups:
            return self
        return UserInfo(self.name, (*self.groups, AUTHENTICATED), self.uid, self.extra)

    def to_json(self) -> dict[str, Any]:
        """Upstream's ``authentication.k8s.io/v1`` ``UserInfo`` (TokenReview, SelfSubjectReview)."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = self.extra_dict()
        return out


def service_account_user(namespace: str, name: str) -> str:
    """The user name a ServiceAccount's tokens authenticate as."""
    return f"{_SA_USER_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}")


def split_service_account_user(user: str) -> tuple[str, str] | None:
    """``system:serviceaccount:ns:name`` → ``(ns, name)``; None for any other user name."""
    if not user.startswith(_SA_USER_PREFIX):
        return None
    namespace, sep, name = user[len(_SA_USER_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name
