"""The authorizer chain: ``--authorization-mode=RBAC`` (or ``AlwaysAllow``, the default today).

Every request, once authenticated, is put to the chain as :class:`~minik.api.rbac.Attributes`
(``attributes.py``). As upstream:

1. members of ``system:masters`` are allowed everything, whatever the modes say -- the
   way back in when someone breaks RBAC;
2. each mode in the order given answers *allow* or *no opinion*; the first *allow*
   wins;
3. nobody allowed it → ``403 Forbidden`` with upstream's message
   (``pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the
   namespace "default"``).

RBAC is read from the API server's own watch cache, never from etcd per request: the
four RBAC resources are filed into a :class:`~minik.api.rbac.PolicyIndex` (rules by
subject), rebuilt only when one of them has changed since -- which the cache tells by
each resource's last revision. A request then costs a few dictionary lookups. Because
the cache follows etcd's watch, a new RoleBinding takes effect a moment after it is
written, as upstream's informer-fed authorizer does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from minik.api import errors, rbac
from minik.api.rbac import Attributes, Decision, PolicyIndex, PolicyRule, UserInfo
from minik.apiserver.watchcache import WatchCache

MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC")
_RBAC_PLURALS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


class Mode(Protocol):
    name: str

    def authorize(self, attrs: Attributes) -> Decision: ...


class AlwaysAllow:
    name = "AlwaysAllow"

    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(True)


class AlwaysDeny:
    name = "AlwaysDeny"

    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(False)


class RBACAuthorizer:
    """RBAC over the watch cache's Roles, ClusterRoles and their bindings."""

    name = "RBAC"

    def __init__(self, cache: Callable[[], WatchCache | None]) -> None:
        self._cache = cache
        self._index = PolicyIndex()
        self._seen: tuple[int, ...] = ()
        self.rebuilds = 0

    def index(self) -> PolicyIndex:
        """The index for the cache's current RBAC objects (rebuilt when they changed)."""
        cache = self._cache()
        if cache is None:
            return self._index
        resources = [cache.caches[p] for p in _RBAC_PLURALS]
        seen = tuple(r.revision for r in resources)
        if seen != self._seen:
            roles, cluster_roles, bindings, cluster_bindings = (
                [e.obj for e in r.objects.values()] for r in resources
            )
            self._index = PolicyIndex(roles, cluster_roles, bindings, cluster_bindings)
            self._seen = seen
            self.rebuilds += 1
        return self._index

    def authorize(self, attrs: Attributes) -> Decision:
        return self.index().authorize(attrs)


@dataclass
class Chain:
    """The configured modes, tried in order after the ``system:masters`` rule."""

    modes: Sequence[Mode]

    @property
    def always_allows(self) -> bool:
        """True when every request is allowed anyway (no need to compute its attributes)."""
        return bool(self.modes) and self.modes[0].name == "AlwaysAllow"

    def authorize(self, attrs: Attributes) -> Decision:
        if rbac.MASTERS in attrs.user.groups:
            return Decision(True)
        reasons = []
        for mode in self.modes:
            decision = mode.authorize(attrs)
            if decision.allowed:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(False, ", ".join(reasons))

    def check(self, attrs: Attributes) -> None:
        """Raise upstream's 403 unless the request is allowed."""
        decision = self.authorize(attrs)
        if not decision.allowed:
            raise errors.APIError(
                403,
                "Forbidden",
                rbac.forbidden_message(attrs, decision.reason),
                details=rbac.forbidden_details(attrs),
            )

    # What the escalation checks need to know about a user's own rules: RBAC's view (a
    # chain without RBAC grants through no rules; its modes allow ``escalate`` anyway).

    def _rbac(self) -> RBACAuthorizer | None:
        return next((m for m in self.modes if isinstance(m, RBACAuthorizer)), None)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        found = self._rbac()
        return found.index().rules_for(user, namespace) if found is not None else ([], [])

    def role_rules(self, ref: dict[str, object], namespace: str) -> tuple[PolicyRule, ...] | None:
        found = self._rbac()
        return found.index().role_rules(ref, namespace) if found is not None else None


def parse_modes(value: str) -> list[str]:
    """``--authorization-mode``: a comma list of known modes, each once."""
    modes = [m.strip() for m in str(value).split(",") if m.strip()]
    if not modes:
        raise ValueError("at least one authorization mode is required")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown authorization mode {m!r}; known: {', '.join(MODES)}")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization mode listed twice: {value!r}")
    return modes


def build_chain(modes: Sequence[str], cache: Callable[[], WatchCache | None]) -> Chain:
    built: list[Mode] = []
    for m in modes:
        if m == "AlwaysAllow":
            built.append(AlwaysAllow())
        elif m == "AlwaysDeny":
            built.append(AlwaysDeny())
        else:
            built.append(RBACAuthorizer(cache))
    return Chain(built)
