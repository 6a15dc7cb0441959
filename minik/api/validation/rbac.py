"""Validation of ``rbac.authorization.k8s.io/v1``: Roles, ClusterRoles and their bindings.

RBAC names are *path segments*, not DNS names: ``system:kube-scheduler`` is a fine
ClusterRole name. A rule grants either resources (``apiGroups`` and ``resources`` both
required) or ``nonResourceURLs`` -- never both, and URLs only in ClusterRoles, because a
namespace has no URLs. A binding refers to its role by ``roleRef``, which can never change:
to point a binding elsewhere you delete it and create another, so that nobody's rights
change behind the back of whoever granted them.
"""

from __future__ import annotations

from typing import Any

from minik.api.field import invalid, not_supported, required
from minik.api.rbac import GROUP
from minik.api.validation import names
from minik.api.validation.common import Errors, KindRules, Obj, get_dict, get_list, get_str, index
from minik.api.validation.meta import validate_label_selector


def path_segment_name(name: str) -> list[str]:
    """Upstream's ``IsValidPathSegmentName``: anything that fits in one URL segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _rule(rule: Any, path: str, namespaced: bool) -> Errors:
    if not isinstance(rule, dict):
        return [invalid(path, rule, "must be an object")]
    errs: Errors = []
    lists = {
        k: get_list(rule, k, f"{path}.{k}", errs)
        for k in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    }
    for key, values in lists.items():
        for i, value in enumerate(values):
            if not isinstance(value, str):
                errs.append(invalid(index(f"{path}.{key}", i), value, "must be a string"))
    if not lists["verbs"]:
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = lists["nonResourceURLs"]
    if urls:
        if namespaced:
            errs.append(
                invalid(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs")
            )
        if lists["apiGroups"] or lists["resources"] or lists["resourceNames"]:
            errs.append(
                invalid(
                    f"{path}.nonResourceURLs",
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not lists["apiGroups"]:
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not lists["resources"]:
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def _rules(obj: Obj, namespaced: bool) -> Errors:
    errs: Errors = []
    for i, rule in enumerate(get_list(obj, "rules", "rules", errs)):
        errs += _rule(rule, index("rules", i), namespaced)
    return errs


def _role(role: Obj) -> Errors:
    return _rules(role, namespaced=True)


def _cluster_role(role: Obj) -> Errors:
    errs = _rules(role, namespaced=False)
    if role.get("aggregationRule") is None:
        return errs
    rule = get_dict(role, "aggregationRule", "aggregationRule", errs)
    selectors = get_list(rule, "clusterRoleSelectors", "aggregationRule.clusterRoleSelectors", errs)
    if not selectors:
        errs.append(
            required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            )
        )
    for i, selector in enumerate(selectors):
        errs += validate_label_selector(selector, index("aggregationRule.clusterRoleSelectors", i))
    return errs


def _subject(subject: Any, path: str, namespaced: bool) -> Errors:
    if not isinstance(subject, dict):
        return [invalid(path, subject, "must be an object")]
    errs: Errors = []
    name = get_str(subject, "name", f"{path}.name", errs)
    kind = get_str(subject, "kind", f"{path}.kind", errs)
    group = get_str(subject, "apiGroup", f"{path}.apiGroup", errs)
    namespace = get_str(subject, "namespace", f"{path}.namespace", errs)
    if not name:
        errs.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, m) for m in names.is_dns1123_subdomain(name)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not namespace:
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(binding: Obj, *, namespaced: bool) -> Errors:
    errs: Errors = []
    ref = get_dict(binding, "roleRef", "roleRef", errs)
    group = get_str(ref, "apiGroup", "roleRef.apiGroup", errs)
    kind = get_str(ref, "kind", "roleRef.kind", errs)
    name = get_str(ref, "name", "roleRef.name", errs)
    if group != GROUP:
        errs.append(not_supported("roleRef.apiGroup", group, [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in kinds:
        errs.append(not_supported("roleRef.kind", kind, kinds))
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", name, m) for m in path_segment_name(name)]
    for i, subject in enumerate(get_list(binding, "subjects", "subjects", errs)):
        errs += _subject(subject, index("subjects", i), namespaced)
    return errs


def _role_binding(binding: Obj) -> Errors:
    return _binding(binding, namespaced=True)


def _cluster_role_binding(binding: Obj) -> Errors:
    return _binding(binding, namespaced=False)


def _role_ref_immutable(new: Obj, old: Obj) -> Errors:
    if new.get("roleRef") != old.get("roleRef"):
        return [invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
    return []


RULES: dict[tuple[str, str], KindRules] = {
    (GROUP, "Role"): KindRules(name=path_segment_name, validate=_role),
    (GROUP, "ClusterRole"): KindRules(name=path_segment_name, validate=_cluster_role),
    (GROUP, "RoleBinding"): KindRules(
        name=path_segment_name, validate=_role_binding, update=_role_ref_immutable
    ),
    (GROUP, "ClusterRoleBinding"): KindRules(
        name=path_segment_name, validate=_cluster_role_binding, update=_role_ref_immutable
    ),
}
