"""The default policy: what it contains, and how an existing default is reconciled."""

from __future__ import annotations

import copy

from minik.api.rbac import Attributes, PolicyIndex, UserInfo
from minik.apiserver.authz import bootstrap


def by_name(objects: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {o["metadata"]["name"]: o for o in objects}


def test_every_binding_names_a_default_role() -> None:
    roles = by_name(bootstrap.cluster_roles())
    for binding in bootstrap.cluster_role_bindings():
        assert binding["roleRef"]["name"] in roles


def test_defaults_grant_what_upstream_grants() -> None:
    index = PolicyIndex(
        cluster_roles=bootstrap.cluster_roles(), cluster_role_bindings=bootstrap.cluster_role_bindings()
    )
    anyone = UserInfo("someone", ("system:authenticated",))
    assert index.authorize(Attributes(anyone, "get", resource_request=False, path="/apis/apps/v1")).allowed
    assert index.authorize(
        Attributes(anyone, "create", api_group="authorization.k8s.io", resource="selfsubjectaccessreviews")
    ).allowed
    assert not index.authorize(Attributes(anyone, "get", resource_request=False, path="/metrics")).allowed
    stranger = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert index.authorize(Attributes(stranger, "get", resource_request=False, path="/version")).allowed
    assert not index.authorize(Attributes(stranger, "get", resource_request=False, path="/apis")).allowed
    scheduler = UserInfo("system:kube-scheduler", ("system:authenticated",))
    assert index.authorize(
        Attributes(scheduler, "create", resource="pods", subresource="binding", name="p", namespace="x")
    ).allowed
    assert not index.authorize(Attributes(scheduler, "list", resource="secrets")).allowed
    dns = UserInfo("system:serviceaccount:kube-system:kube-dns")
    assert index.authorize(Attributes(dns, "watch", resource="services")).allowed
    assert not index.authorize(Attributes(dns, "list", resource="secrets")).allowed
    root = UserInfo("root", ("system:masters",))
    assert index.authorize(Attributes(root, "delete", resource="nodes", name="n")).allowed


def test_reconcile_adds_what_a_default_lost_and_keeps_the_rest() -> None:
    default = by_name(bootstrap.cluster_roles())["system:kube-dns"]
    edited = copy.deepcopy(default)
    mine = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    edited["rules"] = [mine]
    edited["metadata"]["labels"] = {"team": "dns"}
    fixed = bootstrap.reconcile(edited, default)
    assert fixed is not None
    assert fixed["rules"] == [mine, *default["rules"]]
    assert fixed["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults", "team": "dns"}
    assert bootstrap.reconcile(fixed, default) is None  # nothing left to add


def test_autoupdate_false_keeps_your_edits() -> None:
    default = by_name(bootstrap.cluster_roles())["system:kube-dns"]
    edited = copy.deepcopy(default)
    edited["rules"] = []
    edited["metadata"]["annotations"][bootstrap.AUTOUPDATE] = "false"
    assert bootstrap.reconcile(edited, default) is None


def test_reconcile_adds_lost_subjects() -> None:
    default = by_name(bootstrap.cluster_role_bindings())["system:public-info-viewer"]
    edited = {**copy.deepcopy(default), "subjects": [default["subjects"][1]]}
    fixed = bootstrap.reconcile(edited, default)
    assert fixed is not None and fixed["subjects"] == [default["subjects"][1], default["subjects"][0]]
