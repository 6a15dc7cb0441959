"""RBAC's rules, as upstream documents them: one table row per rule of the evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api import rbac
from minik.api.rbac import Attributes, PolicyIndex, PolicyRule, UserInfo

BOB = UserInfo("bob", ("devs", "system:authenticated"))


def rule(**kw: Any) -> PolicyRule:
    return PolicyRule.from_dict(kw)


def req(
    verb: str, resource: str = "", *, group: str = "", sub: str = "", name: str = "", ns: str = ""
) -> Attributes:
    return Attributes(BOB, verb, api_group=group, resource=resource, subresource=sub, name=name, namespace=ns)


def url(verb: str, path: str) -> Attributes:
    return Attributes(BOB, verb, resource_request=False, path=path)


PODS_READ = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}


@pytest.mark.parametrize(
    ("the_rule", "request_", "allowed"),
    [
        # verbs
        (PODS_READ, req("get", "pods"), True),
        (PODS_READ, req("delete", "pods"), False),
        ({**PODS_READ, "verbs": ["*"]}, req("delete", "pods"), True),
        # api groups: "" is core; a group must be named or "*"
        (PODS_READ, req("get", "pods", group="apps"), False),
        ({**PODS_READ, "apiGroups": ["*"]}, req("get", "pods", group="apps"), True),
        (
            {**PODS_READ, "apiGroups": ["apps"], "resources": ["deployments"]},
            req("get", "deployments", group="apps"),
            True,
        ),
        # resources and subresources: "pods" does not grant pods/log, nor the reverse
        (PODS_READ, req("get", "pods", sub="log", name="a"), False),
        ({**PODS_READ, "resources": ["pods/log"]}, req("get", "pods", sub="log", name="a"), True),
        ({**PODS_READ, "resources": ["pods/log"]}, req("get", "pods", name="a"), False),
        ({**PODS_READ, "resources": ["*"]}, req("get", "pods", sub="log", name="a"), True),
        ({**PODS_READ, "resources": ["*/log"]}, req("get", "pods", sub="log", name="a"), True),
        ({**PODS_READ, "resources": ["*/log"]}, req("get", "pods", name="a"), False),
        ({**PODS_READ, "resources": ["*/log"]}, req("get", "pods", sub="status", name="a"), False),
        # "pods/*" is not a wildcard upstream
        ({**PODS_READ, "resources": ["pods/*"]}, req("get", "pods", sub="log", name="a"), False),
        # resourceNames: only requests that name an object
        ({**PODS_READ, "resourceNames": ["a"]}, req("get", "pods", name="a"), True),
        ({**PODS_READ, "resourceNames": ["a"]}, req("get", "pods", name="b"), False),
        ({**PODS_READ, "resourceNames": ["a"]}, req("list", "pods"), False),
        ({**PODS_READ, "resourceNames": ["a"]}, req("watch", "pods", name="a"), True),
        (
            {"verbs": ["create"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
            req("create", "pods"),
            False,
        ),
        # non-resource URLs: exact, "*", or a prefix ending in "*"
        ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz"), True),
        ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz/etcd"), False),
        ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, url("get", "/healthz/etcd"), True),
        ({"verbs": ["get"], "nonResourceURLs": ["/apis*"]}, url("get", "/apis/apps"), True),
        ({"verbs": ["get"], "nonResourceURLs": ["*"]}, url("get", "/anything"), True),
        ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("post", "/healthz"), False),
        # resource rules never grant URLs, URL rules never grant resources
        ({**PODS_READ, "resources": ["*"], "apiGroups": ["*"]}, url("get", "/healthz"), False),
        ({"verbs": ["*"], "nonResourceURLs": ["*"]}, req("get", "pods"), False),
    ],
)
def test_rule_allows(the_rule: dict[str, Any], request_: Attributes, allowed: bool) -> None:
    assert rbac.rule_allows(PolicyRule.from_dict(the_rule), request_) is allowed


def role(
    name: str, rules: list[dict[str, Any]], ns: str = "", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta, "rules": rules}


def binding(
    name: str, kind: str, role_name: str, subjects: list[dict[str, Any]], ns: str = ""
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {
        "metadata": meta,
        "roleRef": {"apiGroup": rbac.GROUP, "kind": kind, "name": role_name},
        "subjects": subjects,
    }


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": rbac.GROUP, "name": name}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": rbac.GROUP, "name": name}


def sa(name: str, ns: str = "") -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": ns} if ns else {})}


@pytest.fixture()
def index() -> PolicyIndex:
    return PolicyIndex(
        roles=[role("pod-reader", [PODS_READ], ns="web")],
        cluster_roles=[
            role("secret-reader", [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]),
            role("node-viewer", [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]),
        ],
        role_bindings=[
            binding("bob-reads-pods", "Role", "pod-reader", [user("bob")], ns="web"),
            binding("devs-read-secrets", "ClusterRole", "secret-reader", [group("devs")], ns="web"),
            binding("robot", "Role", "pod-reader", [sa("robot")], ns="web"),
            binding("dangling", "Role", "gone", [user("carol")], ns="web"),
        ],
        cluster_role_bindings=[
            binding("ops-nodes", "ClusterRole", "node-viewer", [group("ops"), sa("agent", "tools")]),
        ],
    )


def test_role_binding_grants_only_in_its_namespace(index: PolicyIndex) -> None:
    decision = index.authorize(req("list", "pods", ns="web"))
    assert decision.allowed
    assert (
        decision.reason
        == 'RBAC: allowed by RoleBinding "bob-reads-pods/web" of Role "pod-reader" to User "bob"'
    )
    assert not index.authorize(req("list", "pods", ns="other")).allowed
    assert not index.authorize(req("list", "pods")).allowed  # across all namespaces: cluster scope


def test_role_binding_to_a_cluster_role_is_scoped_to_the_namespace(index: PolicyIndex) -> None:
    assert index.authorize(req("get", "secrets", name="s", ns="web")).allowed
    assert not index.authorize(req("get", "secrets", name="s", ns="other")).allowed


def test_cluster_role_binding_grants_everywhere_to_groups_and_service_accounts(index: PolicyIndex) -> None:
    ops = Attributes(UserInfo("olga", ("ops",)), "list", resource="nodes")
    assert index.authorize(ops).allowed
    agent = Attributes(UserInfo("system:serviceaccount:tools:agent"), "list", resource="nodes")
    assert index.authorize(agent).reason == (
        'RBAC: allowed by ClusterRoleBinding "ops-nodes" of ClusterRole "node-viewer" to ServiceAccount "agent/tools"'
    )
    assert not index.authorize(req("list", "nodes")).allowed


def test_service_account_subject_defaults_to_the_binding_namespace(index: PolicyIndex) -> None:
    robot = UserInfo("system:serviceaccount:web:robot", ("system:serviceaccounts",))
    assert index.authorize(Attributes(robot, "get", resource="pods", name="a", namespace="web")).allowed
    other = UserInfo("system:serviceaccount:other:robot")
    assert not index.authorize(Attributes(other, "get", resource="pods", name="a", namespace="web")).allowed


def test_a_binding_to_a_missing_role_grants_nothing_and_says_why(index: PolicyIndex) -> None:
    carol = Attributes(UserInfo("carol"), "list", resource="pods", namespace="web")
    decision = index.authorize(carol)
    assert not decision.allowed
    assert decision.reason == 'RBAC: [role.rbac.authorization.k8s.io "gone" not found]'


def test_forbidden_messages_are_upstreams() -> None:
    u = UserInfo("bob")
    assert (
        rbac.forbidden_message(Attributes(u, "list", resource="pods", namespace="default"))
        == 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    assert (
        rbac.forbidden_message(Attributes(u, "get", api_group="apps", resource="deployments", name="web"))
        == 'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" at the cluster scope'
    )
    assert (
        rbac.forbidden_message(
            Attributes(u, "get", resource="pods", subresource="log", name="a", namespace="x")
        )
        == 'pods "a" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "x"'
    )
    assert (
        rbac.forbidden_message(Attributes(u, "get", resource_request=False, path="/metrics"))
        == 'forbidden: User "bob" cannot get path "/metrics"'
    )


# -- escalation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owned", "wanted", "covered"),
    [
        ([PODS_READ], [PODS_READ], True),
        ([PODS_READ], [{**PODS_READ, "verbs": ["get"]}], True),
        ([PODS_READ], [{**PODS_READ, "verbs": ["delete"]}], False),
        ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], [PODS_READ], True),
        # a named grant does not cover an unnamed one; an unnamed covers named
        ([{**PODS_READ, "resourceNames": ["a"]}], [PODS_READ], False),
        ([PODS_READ], [{**PODS_READ, "resourceNames": ["a"]}], True),
        ([{**PODS_READ, "resourceNames": ["a", "b"]}], [{**PODS_READ, "resourceNames": ["a"]}], True),
        # subresources: */log covers pods/log; pods does not
        ([{**PODS_READ, "resources": ["*/log"]}], [{**PODS_READ, "resources": ["pods/log"]}], True),
        ([PODS_READ], [{**PODS_READ, "resources": ["pods/log"]}], False),
        # URLs: a prefix covers what it matches
        (
            [{"verbs": ["get"], "nonResourceURLs": ["/healthz*"]}],
            [{"verbs": ["get"], "nonResourceURLs": ["/healthz/a"]}],
            True,
        ),
        (
            [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
            [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}],
            False,
        ),
        ([PODS_READ], [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}], False),
    ],
)
def test_covers(owned: list[dict[str, Any]], wanted: list[dict[str, Any]], covered: bool) -> None:
    missing = rbac.covers([PolicyRule.from_dict(r) for r in owned], [PolicyRule.from_dict(r) for r in wanted])
    assert (not missing) is covered


def test_escalation_message_lists_what_is_missing_compactly() -> None:
    missing = rbac.covers([], [rule(verbs=["get", "list"], apiGroups=[""], resources=["secrets"])])
    assert rbac.escalation_message(UserInfo("bob", ("system:authenticated",)), missing) == (
        'user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}'
    )


# -- aggregation ---------------------------------------------------------------------------------


def test_aggregation_gathers_matching_roles_in_name_order_without_duplicates() -> None:
    selector = {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]}
    target = {**role("target", []), "aggregationRule": selector}
    b = role(
        "b", [PODS_READ, {"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}], labels={"agg": "yes"}
    )
    a = role("a", [PODS_READ], labels={"agg": "yes"})
    other = role("c", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], labels={"agg": "no"})
    assert rbac.aggregate(target, [b, other, a, target]) == [
        PODS_READ,
        {"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]},
    ]
    assert rbac.aggregate(role("plain", []), [a, b]) is None


def test_bootstrap_chain_view_edit_admin() -> None:
    """``view`` feeds ``edit`` feeds ``admin``: three rounds of aggregation settle them."""
    from minik.apiserver.authz import bootstrap

    roles = {r["metadata"]["name"]: r for r in bootstrap.cluster_roles()}
    for _ in range(3):
        for r in list(roles.values()):
            rules = rbac.aggregate(r, roles.values())
            if rules is not None:
                roles[r["metadata"]["name"]] = {**r, "rules": rules}
    index = PolicyIndex(
        cluster_roles=roles.values(),
        role_bindings=[binding("x", "ClusterRole", "view", [user("bob")], ns="web")],
    )
    assert index.authorize(req("list", "pods", ns="web")).allowed
    assert index.authorize(req("get", "pods", sub="log", name="a", ns="web")).allowed
    assert not index.authorize(req("get", "secrets", name="a", ns="web")).allowed  # view never reads secrets
    assert not index.authorize(req("create", "pods", ns="web")).allowed
    edit = PolicyIndex(
        cluster_roles=roles.values(),
        role_bindings=[binding("x", "ClusterRole", "edit", [user("bob")], ns="web")],
    )
    assert edit.authorize(req("create", "pods", ns="web")).allowed
    assert edit.authorize(req("list", "pods", ns="web")).allowed  # through view
    assert not edit.authorize(req("create", "roles", group=rbac.GROUP, ns="web")).allowed
    admin = PolicyIndex(
        cluster_roles=roles.values(),
        role_bindings=[binding("x", "ClusterRole", "admin", [user("bob")], ns="web")],
    )
    assert admin.authorize(req("create", "roles", group=rbac.GROUP, ns="web")).allowed
    assert admin.authorize(req("delete", "deployments", group="apps", name="d", ns="web")).allowed
