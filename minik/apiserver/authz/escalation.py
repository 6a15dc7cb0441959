"""Write rules of the RBAC kinds: nobody grants what they do not hold (upstream's
"escalation prevention", checked where upstream checks it: in the kinds' storage).

* Creating or updating a **Role** or **ClusterRole** is allowed if the user may
  ``escalate`` roles (clusterroles), or already holds every rule it writes -- in the
  Role's namespace, or cluster-wide for a ClusterRole. Setting an ``aggregationRule``
  (it can gather anything) needs the rules of a cluster-admin.
* Creating or updating a **RoleBinding** or **ClusterRoleBinding** is allowed if the
  user may ``bind`` the role it refers to, or already holds every rule of that role.
* Members of ``system:masters``, and the API server itself (no user: start-up and the
  aggregation loop), skip the checks.

The user comes from :data:`~minik.apiserver.authz.attributes.current_user` (upstream reads
it from the request context). With ``--authorization-mode=AlwaysAllow`` everyone may
``escalate`` and ``bind``, so these checks pass: they matter once RBAC is on.
"""

from __future__ import annotations

from typing import Any, Protocol

from minik.api import errors, rbac
from minik.api.rbac import Attributes, Decision, PolicyRule, UserInfo
from minik.apiserver.authz.attributes import current_user
from minik.apiserver.strategies import NoStatusStrategy

Obj = dict[str, Any]


class Authority(Protocol):
    """What the checks ask the authorizer chain (``authorizer.Chain``)."""

    def authorize(self, attrs: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]: ...

    def role_rules(self, ref: dict[str, object], namespace: str) -> tuple[PolicyRule, ...] | None: ...


def _only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    """Upstream lets anyone who may update the object change what garbage collection needs."""

    def strip(obj: Obj) -> Obj:
        meta = {
            k: v
            for k, v in (obj.get("metadata") or {}).items()
            if k not in ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")
        }
        return {**obj, "metadata": meta}

    return strip(new) == strip(old)


class RBACStrategy(NoStatusStrategy):
    """The common part: who writes, and the 403 when they may not."""

    #: ``roles``, ``clusterroles``, ``rolebindings`` or ``clusterrolebindings``.
    plural = ""

    def __init__(self) -> None:
        super().__init__(has_generation=False)
        self.authority: Authority | None = None

    def prepare_for_create(self, obj: Obj) -> None:
        self._admit(obj, None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if not _only_gc_fields_changed(new, old):
            self._admit(new, old)

    def _admit(self, obj: Obj, old: Obj | None) -> None:
        user = current_user.get()
        if self.authority is None or user is None or rbac.MASTERS in user.groups:
            return
        self.check(self.authority, user, obj, old)

    def check(self, authority: Authority, user: UserInfo, obj: Obj, old: Obj | None) -> None:
        raise NotImplementedError

    def forbid(self, obj: Obj, message: str) -> errors.APIError:
        name = str(obj.get("metadata", {}).get("name", ""))
        return errors.APIError(
            403,
            "Forbidden",
            f'{self.plural}.{rbac.GROUP} "{name}" is forbidden: {message}',
            details={"name": name, "group": rbac.GROUP, "kind": self.plural},
        )


def _allowed(authority: Authority, user: UserInfo, verb: str, resource: str, name: str, ns: str) -> bool:
    attrs = Attributes(user, verb, api_group=rbac.GROUP, resource=resource, name=name, namespace=ns)
    return authority.authorize(attrs).allowed


class RoleStrategy(RBACStrategy):
    plural = "roles"

    def check(self, authority: Authority, user: UserInfo, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata", {})
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name", ""))
        if _allowed(authority, user, "escalate", self.plural, name, ns):
            return
        owned, problems = authority.rules_for(user, ns)
        missing = rbac.covers(owned, rbac.rules_of(obj))
        if missing:
            raise self.forbid(obj, rbac.escalation_message(user, missing, problems))


class ClusterRoleStrategy(RoleStrategy):
    plural = "clusterroles"

    def check(self, authority: Authority, user: UserInfo, obj: Obj, old: Obj | None) -> None:
        super().check(authority, user, obj, old)
        name = str(obj.get("metadata", {}).get("name", ""))
        if _allowed(authority, user, "escalate", self.plural, name, ""):
            return
        aggregates = obj.get("aggregationRule") is not None
        if aggregates or (old is not None and old.get("aggregationRule") is not None):
            owned, _ = authority.rules_for(user, "")
            if rbac.covers(owned, rbac.FULL_AUTHORITY):
                raise self.forbid(obj, "must have cluster-admin privileges to use the aggregationRule")


class RoleBindingStrategy(RBACStrategy):
    plural = "rolebindings"

    def check(self, authority: Authority, user: UserInfo, obj: Obj, old: Obj | None) -> None:
        ref = obj.get("roleRef")
        if not isinstance(ref, dict) or ref.get("kind") not in ("Role", "ClusterRole"):
            return  # validation answers that (422)
        ns = str(obj.get("metadata", {}).get("namespace") or "") if self.plural == "rolebindings" else ""
        kind, name = str(ref["kind"]), str(ref.get("name", ""))
        resource = "roles" if kind == "Role" else "clusterroles"
        if _allowed(authority, user, "bind", resource, name, ns):
            return
        rules = authority.role_rules(ref, ns)
        if rules is None:
            raise errors.not_found(resource, name, rbac.GROUP)
        owned, problems = authority.rules_for(user, ns)
        missing = rbac.covers(owned, rules)
        if missing:
            raise self.forbid(obj, rbac.escalation_message(user, missing, problems))


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    plural = "clusterrolebindings"
