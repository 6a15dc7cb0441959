"""The authorizer chain and the RBAC kinds' escalation checks, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from minik.api import errors
from minik.api.rbac import GROUP, Attributes, Decision, PolicyIndex, PolicyRule, UserInfo
from minik.apiserver.authz import escalation
from minik.apiserver.authz.attributes import current_user
from minik.apiserver.authz.authorizer import AlwaysAllow, AlwaysDeny, Chain, parse_modes

DAVE = UserInfo("dave", ("system:authenticated",))


class IndexAuthority:
    """RBAC alone, over a fixed index (what ``authorizer.Chain`` gives the strategies)."""

    def __init__(self, index: PolicyIndex) -> None:
        self.index = index

    def authorize(self, attrs: Attributes) -> Decision:
        return self.index.authorize(attrs)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        return self.index.rules_for(user, namespace)

    def role_rules(self, ref: dict[str, object], namespace: str) -> tuple[PolicyRule, ...] | None:
        return self.index.role_rules(ref, namespace)


PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
NODES = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}


def cluster_role(name: str, rules: list[Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules, **extra}


def crb(role: str, user: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{role}-{user}"},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": user}],
    }


@pytest.fixture()
def as_dave() -> Iterator[None]:
    token = current_user.set(DAVE)
    yield
    current_user.reset(token)


def strategy(
    kind: type[escalation.RBACStrategy], *extra_roles: dict[str, Any], may: list[Any] | None = None
) -> escalation.RBACStrategy:
    """A strategy for ``kind`` that sees dave holding the ``pods`` rules, plus ``may``."""
    roles = [
        cluster_role("pods", [PODS]),
        cluster_role("nodes", [NODES]),
        cluster_role("extra", may or []),
        *extra_roles,
    ]
    index = PolicyIndex(
        cluster_roles=roles, cluster_role_bindings=[crb("pods", "dave"), crb("extra", "dave")]
    )
    s = kind()
    s.authority = IndexAuthority(index)
    return s


def forbidden(call: Any) -> str:
    with pytest.raises(errors.APIError) as caught:
        call()
    assert caught.value.code == 403
    return caught.value.message


def test_a_cluster_role_within_your_rules_is_fine(as_dave: None) -> None:
    strategy(escalation.ClusterRoleStrategy).prepare_for_create(cluster_role("mine", [PODS]))


def test_a_cluster_role_beyond_your_rules_is_forbidden(as_dave: None) -> None:
    message = forbidden(
        lambda: strategy(escalation.ClusterRoleStrategy).prepare_for_create(cluster_role("mine", [NODES]))
    )
    assert message.startswith('clusterroles.rbac.authorization.k8s.io "mine" is forbidden: user "dave"')
    assert message.endswith('{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}')


def test_escalate_lets_you_write_any_rules(as_dave: None) -> None:
    may = [{"apiGroups": [GROUP], "resources": ["clusterroles"], "verbs": ["escalate"]}]
    strategy(escalation.ClusterRoleStrategy, may=may).prepare_for_create(cluster_role("mine", [NODES]))


def test_an_aggregation_rule_needs_cluster_admin(as_dave: None) -> None:
    role = cluster_role("mine", [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]})
    message = forbidden(lambda: strategy(escalation.ClusterRoleStrategy).prepare_for_create(role))
    assert message.endswith("must have cluster-admin privileges to use the aggregationRule")
    everything = [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]
    strategy(escalation.ClusterRoleStrategy, may=everything).prepare_for_create(role)


def test_changing_only_what_garbage_collection_needs_is_never_escalation(as_dave: None) -> None:
    old = cluster_role("theirs", [NODES])
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["x"]}}
    strategy(escalation.ClusterRoleStrategy).prepare_for_update(new, old)
    changed = {**new, "metadata": {**old["metadata"], "labels": {"a": "b"}}}
    forbidden(lambda: strategy(escalation.ClusterRoleStrategy).prepare_for_update(changed, old))


def binding(role: str) -> dict[str, Any]:
    return {**crb(role, "erin"), "kind": "ClusterRoleBinding"}


def test_binding_a_role_you_hold_is_fine_and_one_you_do_not_needs_bind(as_dave: None) -> None:
    strategy(escalation.ClusterRoleBindingStrategy).prepare_for_create(binding("pods"))
    message = forbidden(
        lambda: strategy(escalation.ClusterRoleBindingStrategy).prepare_for_create(binding("nodes"))
    )
    assert message.startswith('clusterrolebindings.rbac.authorization.k8s.io "nodes-erin" is forbidden')
    may = [
        {"apiGroups": [GROUP], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["nodes"]}
    ]
    strategy(escalation.ClusterRoleBindingStrategy, may=may).prepare_for_create(binding("nodes"))


def test_binding_a_missing_role_is_not_found(as_dave: None) -> None:
    with pytest.raises(errors.APIError) as caught:
        strategy(escalation.ClusterRoleBindingStrategy).prepare_for_create(binding("ghost"))
    assert caught.value.code == 404


def test_masters_and_the_server_itself_skip_the_checks() -> None:
    strategy(escalation.ClusterRoleStrategy).prepare_for_create(
        cluster_role("mine", [NODES])
    )  # no user: the server
    token = current_user.set(UserInfo("root", ("system:masters",)))
    try:
        strategy(escalation.ClusterRoleStrategy).prepare_for_create(cluster_role("mine", [NODES]))
    finally:
        current_user.reset(token)


# -- the chain ------------------------------------------------------------------------------------


def test_system_masters_pass_even_always_deny() -> None:
    chain = Chain([AlwaysDeny()])
    assert chain.authorize(
        Attributes(UserInfo("root", ("system:masters",)), "delete", resource="nodes")
    ).allowed
    assert not chain.authorize(Attributes(DAVE, "get", resource="pods")).allowed


def test_the_first_mode_that_allows_wins() -> None:
    assert Chain([AlwaysDeny(), AlwaysAllow()]).authorize(Attributes(DAVE, "get", resource="pods")).allowed


def test_a_denial_is_upstreams_403() -> None:
    with pytest.raises(errors.APIError) as caught:
        Chain([AlwaysDeny()]).check(Attributes(DAVE, "list", resource="pods", namespace="web"))
    status = caught.value.to_status()
    assert (status["code"], status["reason"], status["details"]) == (403, "Forbidden", {"kind": "pods"})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "at least one"),
        ("RBAC,Magic", "unknown authorization mode 'Magic'"),
        ("RBAC,RBAC", "listed twice"),
    ],
)
def test_modes_are_checked(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_modes(value)
    assert parse_modes("RBAC, AlwaysAllow") == ["RBAC", "AlwaysAllow"]
