"""Validation of the RBAC kinds, rule by rule as upstream's ``pkg/apis/rbac/validation``."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.defaults import apply_defaults
from minik.api.validation import validate_create, validate_update

V1 = "rbac.authorization.k8s.io/v1"


def errors_of(obj: dict[str, Any], namespaced: bool) -> set[tuple[str, str]]:
    apply_defaults(obj)
    kind = ("rbac.authorization.k8s.io", obj["kind"])
    return {(e.field, e.type.value) for e in validate_create(obj, namespaced=namespaced, kind=kind)}


def role(kind: str, rules: list[Any], **extra: Any) -> dict[str, Any]:
    meta = {"name": "system:my-role", **({"namespace": "web"} if kind == "Role" else {})}
    return {"apiVersion": V1, "kind": kind, "metadata": meta, "rules": rules, **extra}


@pytest.mark.parametrize(
    ("kind", "rules", "expected"),
    [
        ("Role", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}], set()),
        ("Role", [{"apiGroups": [""], "resources": ["pods"]}], {("rules[0].verbs", "FieldValueRequired")}),
        ("Role", [{"verbs": ["get"], "resources": ["pods"]}], {("rules[0].apiGroups", "FieldValueRequired")}),
        ("Role", [{"verbs": ["get"], "apiGroups": [""]}], {("rules[0].resources", "FieldValueRequired")}),
        (
            "Role",
            [{"verbs": ["get"], "nonResourceURLs": ["/x"]}],
            {("rules[0].nonResourceURLs", "FieldValueInvalid")},
        ),
        ("ClusterRole", [{"verbs": ["get"], "nonResourceURLs": ["/x"]}], set()),
        (
            "ClusterRole",
            [{"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]}],
            {("rules[0].nonResourceURLs", "FieldValueInvalid")},
        ),
    ],
)
def test_rules(kind: str, rules: list[Any], expected: set[tuple[str, str]]) -> None:
    assert errors_of(role(kind, rules), namespaced=kind == "Role") == expected


def test_names_are_path_segments() -> None:
    ok = role("ClusterRole", [])
    ok["metadata"]["name"] = "system:controller:x"  # a colon: not a DNS name, fine here
    assert errors_of(ok, namespaced=False) == set()
    bad = role("ClusterRole", [])
    bad["metadata"]["name"] = "a/b"
    assert errors_of(bad, namespaced=False) == {("metadata.name", "FieldValueInvalid")}


def test_an_aggregation_rule_needs_selectors() -> None:
    assert errors_of(role("ClusterRole", [], aggregationRule={}), namespaced=False) == {
        ("aggregationRule.clusterRoleSelectors", "FieldValueRequired")
    }
    good = role("ClusterRole", [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]})
    assert errors_of(good, namespaced=False) == set()


def binding(kind: str, ref_kind: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    meta = {"name": "b", **({"namespace": "web"} if kind == "RoleBinding" else {})}
    return {
        "apiVersion": V1,
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": ref_kind, "name": "r"},
        "subjects": subjects,
    }


@pytest.mark.parametrize(
    ("kind", "ref_kind", "subjects", "expected"),
    [
        (
            "RoleBinding",
            "Role",
            [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}],
            set(),
        ),
        ("RoleBinding", "ClusterRole", [{"kind": "Group", "name": "g"}], set()),
        ("ClusterRoleBinding", "Role", [], {("roleRef.kind", "FieldValueNotSupported")}),
        # a ServiceAccount in a ClusterRoleBinding must name its namespace
        (
            "ClusterRoleBinding",
            "ClusterRole",
            [{"kind": "ServiceAccount", "name": "sa"}],
            {("subjects[0].namespace", "FieldValueRequired")},
        ),
        (
            "RoleBinding",
            "Role",
            [{"kind": "Robot", "name": "r"}],
            {("subjects[0].kind", "FieldValueNotSupported")},
        ),
        ("RoleBinding", "Role", [{"kind": "User"}], {("subjects[0].name", "FieldValueRequired")}),
        (
            "RoleBinding",
            "Role",
            [{"kind": "User", "name": "u", "apiGroup": "x"}],
            {("subjects[0].apiGroup", "FieldValueNotSupported")},
        ),
        (
            "RoleBinding",
            "Role",
            [{"kind": "ServiceAccount", "name": "s", "apiGroup": "x"}],
            {("subjects[0].apiGroup", "FieldValueNotSupported")},
        ),
    ],
)
def test_bindings(
    kind: str, ref_kind: str, subjects: list[dict[str, Any]], expected: set[tuple[str, str]]
) -> None:
    assert errors_of(binding(kind, ref_kind, subjects), namespaced=kind == "RoleBinding") == expected


def test_defaults_fill_role_ref_and_subject_groups() -> None:
    b = binding(
        "RoleBinding", "Role", [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]
    )
    apply_defaults(b)
    assert b["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert b["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in b["subjects"][1]


def test_role_ref_is_immutable() -> None:
    old = binding("RoleBinding", "Role", [])
    apply_defaults(old)
    new = {**old, "roleRef": {**old["roleRef"], "name": "other"}}
    errs = validate_update(new, old, namespaced=True, kind=("rbac.authorization.k8s.io", "RoleBinding"))
    assert [(e.field, e.detail) for e in errs] == [("roleRef", "cannot change roleRef")]
