"""Impersonation headers: who may act as whom, and who they then are."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Headers

from minik.api import errors
from minik.api.rbac import GROUP, Attributes, Decision, PolicyIndex, UserInfo
from minik.apiserver.authz.authorizer import Chain
from minik.apiserver.authz.impersonation import impersonate, requested

SUPPORT = UserInfo("support", ("system:authenticated",))


class IndexMode:
    name = "RBAC"

    def __init__(self, index: PolicyIndex) -> None:
        self.index = index

    def authorize(self, attrs: Attributes) -> Decision:
        return self.index.authorize(attrs)


def chain(*rules: dict[str, Any]) -> Chain:
    role = {"metadata": {"name": "impersonator"}, "rules": list(rules)}
    binding = {
        "metadata": {"name": "support"},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "impersonator"},
        "subjects": [{"kind": "User", "name": "support"}],
    }
    return Chain([IndexMode(PolicyIndex(cluster_roles=[role], cluster_role_bindings=[binding]))])


def headers(*pairs: tuple[str, str]) -> Headers:
    return Headers(raw=[(k.lower().encode(), v.encode()) for k, v in pairs])


USERS = {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["bob"]}
GROUPS = {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"]}
SAS = {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}


def test_no_headers_no_change() -> None:
    assert not requested(headers(("Authorization", "Bearer x")))
    assert impersonate(chain(), SUPPORT, headers()) is SUPPORT


def test_impersonating_a_user_needs_impersonate_on_that_user() -> None:
    assert impersonate(chain(USERS), SUPPORT, headers(("Impersonate-User", "bob"))) == UserInfo(
        "bob", ("system:authenticated",)
    )
    with pytest.raises(errors.APIError) as caught:
        impersonate(chain(USERS), SUPPORT, headers(("Impersonate-User", "carol")))
    assert caught.value.code == 403
    assert caught.value.message == (
        'users "carol" is forbidden: User "support" cannot impersonate resource "users" in API group "" '
        "at the cluster scope"
    )


def test_groups_are_checked_one_by_one() -> None:
    asked = headers(("Impersonate-User", "bob"), ("Impersonate-Group", "devs"), ("Impersonate-Group", "ops"))
    assert impersonate(chain(USERS, GROUPS), SUPPORT, asked).groups == ("devs", "ops", "system:authenticated")
    with pytest.raises(errors.APIError) as caught:
        impersonate(chain(USERS), SUPPORT, asked)
    assert 'groups "devs" is forbidden' in caught.value.message


def test_a_service_account_is_checked_in_its_namespace_and_gets_its_groups() -> None:
    user = impersonate(chain(SAS), SUPPORT, headers(("Impersonate-User", "system:serviceaccount:web:robot")))
    assert user == UserInfo(
        "system:serviceaccount:web:robot",
        ("system:serviceaccounts", "system:serviceaccounts:web", "system:authenticated"),
    )


def test_extras_and_uid_need_their_own_permission() -> None:
    asked = headers(("Impersonate-User", "bob"), ("Impersonate-Extra-Scopes", "view"))
    with pytest.raises(errors.APIError) as caught:
        impersonate(chain(USERS), SUPPORT, asked)
    assert (
        'cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io"'
        in caught.value.message
    )
    extras = {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["userextras/scopes", "uids"],
        "verbs": ["impersonate"],
    }
    impersonate(chain(USERS, extras), SUPPORT, headers(*asked.items(), ("Impersonate-Uid", "42")))


def test_groups_without_a_user_are_a_bad_request() -> None:
    with pytest.raises(errors.APIError) as caught:
        impersonate(chain(GROUPS), SUPPORT, headers(("Impersonate-Group", "devs")))
    assert caught.value.code == 400


def test_system_masters_may_impersonate_anyone() -> None:
    root = UserInfo("root", ("system:masters",))
    assert impersonate(chain(), root, headers(("Impersonate-User", "x"))).name == "x"
