"""RBAC, evaluated the way upstream's ``rbac`` authorizer evaluates it. Pure logic, no I/O.

Role-based access control answers one question for every request: *may this user do this
verb on this resource?* The answer comes from four kinds of objects
(``rbac.authorization.k8s.io/v1``):

* a **Role** (in one namespace) or **ClusterRole** (cluster-wide) is a list of
  ``rules``; each rule grants ``verbs`` on ``resources`` of ``apiGroups`` (optionally only
  the objects in ``resourceNames``), or ``verbs`` on ``nonResourceURLs`` such as
  ``/healthz`` (ClusterRoles only);
* a **RoleBinding** gives a Role's or a ClusterRole's rules to ``subjects`` (users,
  groups, ServiceAccounts) *inside the binding's namespace*; a **ClusterRoleBinding**
  gives a ClusterRole's rules everywhere.

Permissions only add up: there is no "deny" rule, so a request is allowed as soon as one
rule of one binding that names the user (or one of its groups) matches it.

How a rule matches (upstream's ``RuleAllows``):

* ``verbs``: the request's verb, or ``*``;
* ``apiGroups``: the request's group (``""`` is the core group), or ``*``;
* ``resources``: ``*``; or the resource exactly, written ``pods`` for the resource and
  ``pods/log`` for a subresource (``pods`` does *not* grant ``pods/log``); or
  ``*/log`` for that subresource of any resource. ``pods/*`` is *not* a wildcard;
* ``resourceNames``: empty means every object; otherwise the request must name one of
  them -- so such a rule never grants ``list``, ``watch``, ``create`` or
  ``deletecollection``, which name no object;
* ``nonResourceURLs``: the path exactly, ``*``, or a prefix ending in ``*``
  (``/healthz/*``).

Two more rules keep RBAC from being a ladder anyone can climb (*escalation prevention*):
writing a Role with rules you do not hold yourself needs the ``escalate`` verb on roles,
and binding a role whose rules you do not hold needs the ``bind`` verb on it
(:func:`covers` computes "holds"). And a ClusterRole with an ``aggregationRule`` has its
rules computed: the union of the rules of every ClusterRole its label selectors match
(:func:`aggregate`) -- that is how ``admin``, ``edit`` and ``view`` grow when someone
installs a ClusterRole labelled ``rbac.authorization.k8s.io/aggregate-to-edit: "true"``.

:class:`PolicyIndex` turns the four lists of objects into lookup tables once, so that each
request costs a few dictionary lookups and rule checks, not a scan of every binding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from minik.api.identity import (
    ANONYMOUS,
    AUTHENTICATED,
    MASTERS,
    UNAUTHENTICATED,
    UserInfo,
    service_account_user,
)
from minik.api.selectors import LabelSelector, SelectorError

__all__ = ["ANONYMOUS", "AUTHENTICATED", "MASTERS", "UNAUTHENTICATED", "UserInfo", "service_account_user"]

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
ALL = "*"


# -- the request (the user is authentication's ``minik.api.identity.UserInfo``) -----------------------


@dataclass(slots=True)  # made on every request: not frozen, whose __init__ is several times slower
class Attributes:
    """What a request asks to do (upstream's ``authorizer.Attributes``).

    A *resource request* names ``api_group``/``resource``[/``subresource``] and maybe a
    ``namespace`` and object ``name``; any other request is a *non-resource request* for
    ``path`` (``/healthz``, ``/version``, ``/apis`` ...), whose verb is the lower-cased
    HTTP method. Treat it as a value: nothing changes one once made.
    """

    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


# -- rules -----------------------------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


@dataclass(frozen=True)
class PolicyRule:
    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Any) -> PolicyRule:
        if not isinstance(rule, dict):
            return cls()
        return cls(
            _strings(rule.get("verbs")),
            _strings(rule.get("apiGroups")),
            _strings(rule.get("resources")),
            _strings(rule.get("resourceNames")),
            _strings(rule.get("nonResourceURLs")),
        )

    def to_dict(self) -> Obj:
        out: Obj = {"verbs": list(self.verbs)}
        if self.api_groups or self.resources:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out

    def compact(self) -> str:
        """The rule as upstream prints it in escalation errors: ``{APIGroups:["apps"], Verbs:["get"]}``."""
        parts = []
        for label, values in (
            ("APIGroups", self.api_groups),
            ("Resources", self.resources),
            ("NonResourceURLs", self.non_resource_urls),
            ("ResourceNames", self.resource_names),
            ("Verbs", self.verbs),
        ):
            if values:
                parts.append(f"{label}:{go_quote_list(values)}")
        return "{" + ", ".join(parts) + "}"


def rules_of(obj: Obj) -> tuple[PolicyRule, ...]:
    """The rules of a Role or ClusterRole object."""
    rules = obj.get("rules")
    return tuple(PolicyRule.from_dict(r) for r in rules) if isinstance(rules, list) else ()


def go_quote_list(values: Iterable[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def go_quote(value: str) -> str:
    """Go's ``%q`` of a string (enough of it for names and paths)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """``combined`` is ``resource`` or ``resource/subresource``."""
    for allowed in rule.resources:
        if allowed in (ALL, combined):
            return True
        if subresource and allowed == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for allowed in rule.non_resource_urls:
        if allowed in (ALL, path):
            return True
        if allowed.endswith("*") and path.startswith(allowed.rstrip("*")):
            return True
    return False


def rule_allows(rule: PolicyRule, attrs: Attributes) -> bool:
    """Whether one rule grants the request (upstream's ``RuleAllows``)."""
    if not attrs.resource_request:
        return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)
    return _resource_rule_allows(rule, attrs, _combined(attrs))


def _combined(attrs: Attributes) -> str:
    return f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource


def _resource_rule_allows(rule: PolicyRule, attrs: Attributes, combined: str) -> bool:
    return (
        verb_matches(rule, attrs.verb)
        and api_group_matches(rule, attrs.api_group)
        and resource_matches(rule, combined, attrs.subresource)
        and resource_name_matches(rule, attrs.name)
    )


# -- subjects --------------------------------------------------------------------------------------


def subject_applies(subject: Any, user: UserInfo, namespace: str) -> bool:
    """Whether a binding's subject names ``user``. ``namespace`` is the binding's ("" for a
    ClusterRoleBinding): a ServiceAccount subject without a namespace means one in it."""
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and service_account_user(str(sa_namespace), str(name)) == user.name
    return False


# -- escalation: does one set of rules cover another? ----------------------------------------------


def breakdown(rule: PolicyRule) -> list[PolicyRule]:
    """One rule as many: one verb, group, resource (and name or URL) each."""
    out: list[PolicyRule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out.extend(PolicyRule((verb,), (group,), (resource,), (n,)) for n in rule.resource_names)
                else:
                    out.append(PolicyRule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        out.extend(PolicyRule((verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return out


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owned:
        return True
    for resource in wanted:
        if resource in owned:
            continue
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owned: str, wanted: str) -> bool:
    return owned == wanted or (owned.endswith("*") and wanted.startswith(owned.rstrip("*")))


def rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    """Whether ``owner`` grants everything the (broken-down) ``sub`` grants."""
    verbs = ALL in owner.verbs or all(v in owner.verbs for v in sub.verbs)
    groups = ALL in owner.api_groups or all(g in owner.api_groups for g in sub.api_groups)
    resources = _resources_cover(owner.resources, sub.resources)
    urls = all(any(_url_covers(o, w) for o in owner.non_resource_urls) for w in sub.non_resource_urls)
    if sub.resource_names:
        names = not owner.resource_names or all(n in owner.resource_names for n in sub.resource_names)
    else:
        names = not owner.resource_names
    return verbs and groups and resources and names and urls


def covers(owned: Sequence[PolicyRule], wanted: Iterable[PolicyRule]) -> list[PolicyRule]:
    """The parts of ``wanted`` that ``owned`` does not grant (empty: fully covered)."""
    missing = []
    for rule in wanted:
        for sub in breakdown(rule):
            if not any(rule_covers(o, sub) for o in owned):
                missing.append(sub)
    return missing


def compact(rules: Iterable[PolicyRule]) -> list[PolicyRule]:
    """Merge rules that differ only in their verbs (upstream's ``CompactRules``), to keep
    an escalation error short: ``get`` and ``list`` on pods become one line."""
    merged: dict[tuple[Any, ...], list[str]] = {}
    others: list[PolicyRule] = []
    for r in rules:
        if (
            len(r.resources) == 1
            and len(r.api_groups) == 1
            and not r.non_resource_urls
            and len(r.resource_names) <= 1
        ):
            verbs = merged.setdefault((r.api_groups, r.resources, r.resource_names), [])
            verbs.extend(v for v in r.verbs if v not in verbs)
        else:
            others.append(r)
    return [PolicyRule(tuple(v), g, res, n) for (g, res, n), v in merged.items()] + others


def escalation_message(user: UserInfo, missing: Sequence[PolicyRule], errors: Sequence[str] = ()) -> str:
    """Upstream's text for a write that would grant rules its author does not hold."""
    lines = sorted({r.compact() for r in compact(missing)})
    msg = (
        f"user {go_quote(user.name)} (groups={go_quote_list(user.groups)}) is attempting to grant "
        "RBAC permissions not currently held:\n" + "\n".join(lines)
    )
    if errors:
        msg += f"; resolution errors: [{', '.join(errors)}]"
    return msg


#: What only a cluster-admin holds; needed to set an ``aggregationRule``.
FULL_AUTHORITY = (
    PolicyRule((ALL,), (ALL,), (ALL,)),
    PolicyRule((ALL,), non_resource_urls=(ALL,)),
)


# -- aggregation -----------------------------------------------------------------------------------


def aggregation_selectors(cluster_role: Obj) -> list[LabelSelector] | None:
    """The label selectors of a ClusterRole's ``aggregationRule`` (None: it has none)."""
    rule = cluster_role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    selectors = []
    for raw in rule.get("clusterRoleSelectors") or []:
        try:
            selectors.append(LabelSelector.from_dict(raw))
        except (SelectorError, TypeError, AttributeError):
            continue
    return selectors


def aggregate(cluster_role: Obj, all_cluster_roles: Iterable[Obj]) -> list[Obj] | None:
    """The rules an aggregated ClusterRole should have; None if it has no ``aggregationRule``.

    Upstream's order: selector by selector, the matching ClusterRoles sorted by name, their
    rules in order, each distinct rule once.
    """
    selectors = aggregation_selectors(cluster_role)
    if selectors is None:
        return None
    own = _name(cluster_role)
    others = sorted((o for o in all_cluster_roles if _name(o) != own), key=_name)
    rules: list[Obj] = []
    seen: set[PolicyRule] = set()
    for selector in selectors:
        for other in others:
            if not selector.matches(other.get("metadata", {}).get("labels") or {}):
                continue
            for raw in other.get("rules") or []:
                parsed = PolicyRule.from_dict(raw)
                if parsed not in seen:
                    seen.add(parsed)
                    rules.append(raw)
    return rules


# -- the index -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """The rules one binding gives one subject, or why it gives none (its role does not
    exist); ``source`` says which binding, for the reason of an allowed review."""

    rules: tuple[PolicyRule, ...]
    error: str = ""
    source: str = ""


def _to(grant: Grant, subject: str) -> Grant:
    return replace(grant, source=f"{grant.source} to {subject}")


@dataclass
class _Grants:
    by_user: dict[str, list[Grant]] = field(default_factory=dict)
    by_group: dict[str, list[Grant]] = field(default_factory=dict)

    def add(self, subjects: Any, grant: Grant, namespace: str) -> None:
        for subject in subjects if isinstance(subjects, list) else []:
            if not isinstance(subject, dict) or not isinstance(subject.get("name"), str):
                continue
            kind, name = subject.get("kind"), subject["name"]
            if kind == "User":
                self.by_user.setdefault(name, []).append(_to(grant, f'User "{name}"'))
            elif kind == "Group":
                self.by_group.setdefault(name, []).append(_to(grant, f'Group "{name}"'))
            elif kind == "ServiceAccount":
                sa_namespace = subject.get("namespace") or namespace
                if sa_namespace:
                    user = service_account_user(sa_namespace, name)
                    self.by_user.setdefault(user, []).append(
                        _to(grant, f'ServiceAccount "{name}/{sa_namespace}"')
                    )

    def for_user(self, user: UserInfo) -> Iterable[Grant]:
        yield from self.by_user.get(user.name, ())
        for group in user.groups:
            yield from self.by_group.get(group, ())


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _namespace(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("namespace", ""))


#: How many (user, namespace) pairs an index remembers the grants of before starting afresh.
_REMEMBER = 10_000


class PolicyIndex:
    """Every binding's rules, filed by subject: one request = a few lookups.

    Built from the current Roles, ClusterRoles, RoleBindings and ClusterRoleBindings; the
    caller builds a new one when any of them changes (they change rarely, requests are
    many). A binding whose role does not exist grants nothing, and says so in the reason
    of a denial, as upstream does.
    """

    def __init__(
        self,
        roles: Iterable[Obj] = (),
        cluster_roles: Iterable[Obj] = (),
        role_bindings: Iterable[Obj] = (),
        cluster_role_bindings: Iterable[Obj] = (),
    ) -> None:
        self.roles = {(_namespace(r), _name(r)): rules_of(r) for r in roles}
        self.cluster_roles = {_name(r): rules_of(r) for r in cluster_roles}
        self.cluster = _Grants()
        self.namespaced: dict[str, _Grants] = {}
        self._remembered: dict[tuple[UserInfo, str], tuple[Grant, ...]] = {}
        for crb in cluster_role_bindings:
            source = f'ClusterRoleBinding "{_name(crb)}"'
            self.cluster.add(crb.get("subjects"), self._grant(crb.get("roleRef"), "", source), "")
        for rb in role_bindings:
            ns = _namespace(rb)
            grants = self.namespaced.setdefault(ns, _Grants())
            source = f'RoleBinding "{_name(rb)}/{ns}"'
            grants.add(rb.get("subjects"), self._grant(rb.get("roleRef"), ns, source), ns)

    def _grant(self, ref: Any, namespace: str, binding: str = "") -> Grant:
        ref = ref if isinstance(ref, dict) else {}
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        source = f'{binding} of {kind} "{name}"'
        if kind == "ClusterRole":
            rules = self.cluster_roles.get(name)
            missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role" and namespace:
            rules = self.roles.get((namespace, name))
            missing = f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            rules, missing = None, f"unsupported role reference kind: {kind!r}"
        return Grant(rules, "", source) if rules is not None else Grant((), missing, source)

    def grants(self, user: UserInfo, namespace: str) -> tuple[Grant, ...]:
        """The grants that apply to ``user`` for a request in ``namespace`` ("" = cluster-wide).

        Remembered per (user, namespace): the same few identities ask again and again, and
        the index is replaced whenever a binding or role changes, so nothing goes stale.
        """
        key = (user, namespace)
        found = self._remembered.get(key)
        if found is None:
            found = tuple(self.cluster.for_user(user))
            local = self.namespaced.get(namespace) if namespace else None
            if local is not None:
                found += tuple(local.for_user(user))
            if len(self._remembered) >= _REMEMBER:
                self._remembered.clear()
            self._remembered[key] = found
        return found

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """Every rule ``user`` holds in ``namespace``, and the bindings that could not resolve."""
        rules: list[PolicyRule] = []
        errors: list[str] = []
        for grant in self.grants(user, namespace):
            rules.extend(grant.rules)
            if grant.error:
                errors.append(grant.error)
        return rules, errors

    def role_rules(self, ref: Mapping[str, Any], namespace: str) -> tuple[PolicyRule, ...] | None:
        """The rules a binding's ``roleRef`` points at (None: no such role)."""
        grant = self._grant(dict(ref), namespace)
        return None if grant.error else grant.rules

    def authorize(self, attrs: Attributes) -> Decision:
        errors: list[str] = []
        combined = _combined(attrs) if attrs.resource_request else ""
        for grant in self.grants(attrs.user, attrs.namespace):
            for rule in grant.rules:
                if (
                    _resource_rule_allows(rule, attrs, combined)
                    if attrs.resource_request
                    else rule_allows(rule, attrs)
                ):
                    return Decision(True, f"RBAC: allowed by {grant.source}")
            if grant.error:
                errors.append(grant.error)
        return Decision(False, f"RBAC: [{', '.join(errors)}]" if errors else "")


# -- the denial ------------------------------------------------------------------------------------


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """The message of a 403, word for word as upstream writes it."""
    user = go_quote(attrs.user.name)
    if not attrs.resource_request:
        msg = f"User {user} cannot {attrs.verb} path {go_quote(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = f"in the namespace {go_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        msg = (
            f"User {user} cannot {attrs.verb} resource {go_quote(resource)} "
            f"in API group {go_quote(attrs.api_group)} {where}"
        )
    if reason:
        msg = f"{msg}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {msg}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f"{qualified} {go_quote(attrs.name)} is forbidden: {msg}"
    return f"{qualified} is forbidden: {msg}"


def forbidden_details(attrs: Attributes) -> Obj:
    details: Obj = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.api_group:
        details["group"] = attrs.api_group
    return details
