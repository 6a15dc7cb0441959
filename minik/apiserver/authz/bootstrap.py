"""Upstream's default RBAC policy, as data, and the start-up step that keeps it in place.

Every cluster starts with the same roles and bindings (upstream's ``bootstrappolicy``):

* the user-facing ClusterRoles ``cluster-admin`` (everything), and ``admin``, ``edit`` and
  ``view``, which are *aggregated*: their rules are gathered from every ClusterRole
  labelled ``rbac.authorization.k8s.io/aggregate-to-<name>: "true"`` (upstream's
  ``system:aggregate-to-*`` carry the built-in part; ``view`` feeds ``edit``, ``edit``
  feeds ``admin``). Bind them with a RoleBinding to give someone a namespace;
* what every authenticated user may do: discover the API (``system:discovery``), ask
  what it may do (``system:basic-user``), read the version and health
  (``system:public-info-viewer``, also for unauthenticated clients);
* one role per control-plane component -- ``system:kube-scheduler``,
  ``system:kube-controller-manager``, ``system:node-proxier`` (kube-proxy),
  ``system:kube-dns``, ``system:monitoring`` ...;
* ``cluster-admin`` bound to the group ``system:masters``;
* ``system:kubelet-api-admin`` (``nodes/proxy``, ``nodes/log``, ``nodes/stats`` ...) bound
  to the user ``kube-apiserver-kubelet-client``: the API server's own certificate when it
  calls kubelets for ``kubectl logs``/``exec`` (kubeadm makes the same binding itself).

At start the API server creates what is missing (upstream's ``rbac/bootstrap-roles``
post-start hook). An existing default annotated ``rbac.authorization.kubernetes.io/autoupdate:
"true"`` gets back any rule or subject it lost, so an upgrade can add permissions; set the
annotation to ``"false"`` to keep your own edits.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from minik.api import errors
from minik.api.rbac import GROUP, PolicyRule
from minik.apiserver.registry import Registry
from minik.apiserver.rest import Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
_API_VERSION = f"{GROUP}/v1"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
EVENTS = ("create", "patch", "update")


def _r(
    verbs: tuple[str, ...], groups: tuple[str, ...], resources: tuple[str, ...], names: tuple[str, ...] = ()
) -> Obj:
    rule: Obj = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def _urls(verbs: tuple[str, ...], urls: tuple[str, ...]) -> Obj:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


def _aggregate_to(name: str) -> dict[str, str]:
    return {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}


def _meta(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {AUTOUPDATE: "true"},
    }


def _role(name: str, rules: list[Obj], labels: dict[str, str] | None = None, aggregate: str = "") -> Obj:
    role: Obj = {
        "apiVersion": _API_VERSION,
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": rules,
    }
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": _aggregate_to(aggregate)}]}
    return role


def _view_rules() -> list[Obj]:
    return [
        _r(
            READ,
            ("",),
            (
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ),
        ),
        _r(
            READ,
            ("",),
            (
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ),
        ),
        _r(READ, ("",), ("namespaces",)),
        _r(READ, ("discovery.k8s.io",), ("endpointslices",)),
        _r(
            READ,
            ("apps",),
            (
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ),
        ),
        _r(READ, ("autoscaling",), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
        _r(READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
        _r(READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
        _r(READ, ("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies")),
    ]


def _edit_rules() -> list[Obj]:
    return [
        _r(
            READ,
            ("",),
            ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
        ),
        _r(("impersonate",), ("",), ("serviceaccounts",)),
        _r(WRITE, ("",), ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")),
        _r(("create",), ("",), ("pods/eviction",)),
        _r(
            WRITE,
            ("",),
            (
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ),
        ),
        _r(("create",), ("",), ("serviceaccounts/token",)),
        _r(
            WRITE,
            ("apps",),
            (
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ),
        ),
        _r(WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
        _r(WRITE, ("batch",), ("cronjobs", "jobs")),
        _r(WRITE, ("policy",), ("poddisruptionbudgets",)),
        _r(WRITE, ("networking.k8s.io",), ("ingresses", "networkpolicies")),
        _r(READ_WRITE, ("coordination.k8s.io",), ("leases",)),
    ]


def _leader_lease(name: str) -> list[Obj]:
    return [
        _r(("create",), ("coordination.k8s.io",), ("leases",)),
        _r(("get", "update"), ("coordination.k8s.io",), ("leases",), (name,)),
    ]


def cluster_roles() -> list[Obj]:
    events = _r(EVENTS, ("", "events.k8s.io"), ("events",))
    reviews = [
        _r(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
        _r(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
    ]
    return [
        _role("cluster-admin", [_r(("*",), ("*",), ("*",)), _urls(("*",), ("*",))]),
        _role("admin", [], aggregate="admin"),
        _role("edit", [], _aggregate_to("admin"), aggregate="edit"),
        _role("view", [], _aggregate_to("edit"), aggregate="view"),
        _role(
            "system:aggregate-to-admin",
            [
                _r(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
                _r(READ_WRITE, (GROUP,), ("rolebindings", "roles")),
            ],
            _aggregate_to("admin"),
        ),
        _role("system:aggregate-to-edit", _edit_rules(), _aggregate_to("edit")),
        _role("system:aggregate-to-view", _view_rules(), _aggregate_to("view")),
        _role(
            "system:discovery",
            [
                _urls(
                    ("get",),
                    (
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ),
                )
            ],
        ),
        _role(
            "system:basic-user",
            [
                _r(
                    ("create",),
                    ("authorization.k8s.io",),
                    ("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
                ),
                _r(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
            ],
        ),
        _role(
            "system:public-info-viewer",
            [_urls(("get",), ("/healthz", "/livez", "/readyz", "/version", "/version/"))],
        ),
        _role(
            "system:monitoring",
            [
                _urls(
                    ("get",),
                    (
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ),
                )
            ],
        ),
        _role("system:auth-delegator", reviews),
        _role(
            "system:kube-controller-manager",
            [
                events,
                *_leader_lease("kube-controller-manager"),
                _r(("create",), ("",), ("secrets", "serviceaccounts")),
                _r(("delete",), ("",), ("secrets",)),
                _r(("get",), ("",), ("configmaps", "namespaces", "secrets", "serviceaccounts")),
                _r(("update",), ("",), ("secrets", "serviceaccounts")),
                *reviews,
                _r(("list", "watch"), ("*",), ("*",)),
                _r(("create",), ("",), ("serviceaccounts/token",)),
            ],
        ),
        _role(
            "system:kube-scheduler",
            [
                events,
                *_leader_lease("kube-scheduler"),
                _r(READ, ("",), ("nodes",)),
                _r(("delete", "get", "list", "watch"), ("",), ("pods",)),
                _r(("create",), ("",), ("bindings", "pods/binding")),
                _r(("patch", "update"), ("",), ("pods/status",)),
                _r(READ, ("",), ("replicationcontrollers", "services")),
                _r(READ, ("apps", "extensions"), ("replicasets",)),
                _r(READ, ("apps",), ("statefulsets",)),
                _r(READ, ("policy",), ("poddisruptionbudgets",)),
                _r(READ, ("",), ("persistentvolumeclaims", "persistentvolumes")),
                *reviews,
                _r(READ, ("storage.k8s.io",), ("csinodes",)),
                _r(READ, ("",), ("namespaces",)),
                _r(READ, ("storage.k8s.io",), ("csidrivers",)),
                _r(READ, ("storage.k8s.io",), ("csistoragecapacities",)),
            ],
        ),
        _role(
            "system:volume-scheduler",
            [
                _r(("get", "list", "patch", "update", "watch"), ("",), ("persistentvolumes",)),
                _r(READ, ("storage.k8s.io",), ("storageclasses",)),
                _r(("get", "list", "patch", "update", "watch"), ("",), ("persistentvolumeclaims",)),
            ],
        ),
        _role("system:kube-dns", [_r(("list", "watch"), ("",), ("endpoints", "services"))]),
        _role(
            "system:node-proxier",
            [
                _r(("list", "watch"), ("",), ("endpoints", "services")),
                _r(READ, ("",), ("nodes",)),
                events,
                _r(("list", "watch"), ("discovery.k8s.io",), ("endpointslices",)),
            ],
        ),
        _role(
            "system:kubelet-api-admin",
            [
                _r(READ, ("",), ("nodes",)),
                _r(("proxy",), ("",), ("nodes",)),
                _r(("*",), ("",), ("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats")),
            ],
        ),
        _role(
            "system:service-account-issuer-discovery",
            [_urls(("get",), ("/.well-known/openid-configuration", "/openid/v1/jwks"))],
        ),
    ]


def _subject(kind: str, name: str, namespace: str = "") -> Obj:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "apiGroup": GROUP, "name": name}


def _binding(role: str, *subjects: Obj) -> Obj:
    return {
        "apiVersion": _API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(role),
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", _subject("Group", "system:masters")),
        _binding("system:basic-user", _subject("Group", "system:authenticated")),
        _binding("system:discovery", _subject("Group", "system:authenticated")),
        _binding(
            "system:public-info-viewer",
            _subject("Group", "system:authenticated"),
            _subject("Group", "system:unauthenticated"),
        ),
        _binding("system:monitoring", _subject("Group", "system:monitoring")),
        _binding("system:kube-controller-manager", _subject("User", "system:kube-controller-manager")),
        _binding("system:kube-scheduler", _subject("User", "system:kube-scheduler")),
        _binding("system:volume-scheduler", _subject("User", "system:kube-scheduler")),
        _binding("system:kube-dns", _subject("ServiceAccount", "kube-dns", "kube-system")),
        _binding("system:node-proxier", _subject("User", "system:kube-proxy")),
        _binding("system:kubelet-api-admin", _subject("User", "kube-apiserver-kubelet-client")),
        _binding("system:service-account-issuer-discovery", _subject("Group", "system:serviceaccounts")),
    ]


# -- reconciling -----------------------------------------------------------------------------------


def reconcile(existing: Obj, default: Obj) -> Obj | None:
    """What an existing default should become (None: leave it alone).

    Additive, like upstream: rules, subjects, labels and annotations the default has and
    the object lacks are added; nothing the object has is taken away. Aggregated roles'
    rules are left to the aggregation loop.
    """
    annotations = existing.get("metadata", {}).get("annotations") or {}
    if annotations.get(AUTOUPDATE) == "false":
        return None
    updated: Obj = {**existing, "metadata": dict(existing.get("metadata", {}))}
    meta = updated["metadata"]
    for key in ("labels", "annotations"):
        meta[key] = {**default["metadata"][key], **(meta.get(key) or {})}
    if default["kind"] == "ClusterRole":
        if "aggregationRule" in default:
            updated.setdefault("aggregationRule", default["aggregationRule"])
        else:
            have = {PolicyRule.from_dict(r) for r in existing.get("rules") or []}
            extra = [r for r in default["rules"] if PolicyRule.from_dict(r) not in have]
            updated["rules"] = list(existing.get("rules") or []) + extra
    else:
        subjects = list(existing.get("subjects") or [])
        updated["subjects"] = subjects + [s for s in default["subjects"] if s not in subjects]
    return None if updated == existing else updated


async def ensure(storage: Storage, registry: Registry) -> None:
    """Create the default roles and bindings, and reconcile the ones that exist."""
    for plural, defaults in (
        ("clusterroles", cluster_roles()),
        ("clusterrolebindings", cluster_role_bindings()),
    ):
        rt = registry.lookup(GROUP, "v1", plural)
        assert rt is not None
        for default in defaults:
            name = default["metadata"]["name"]
            try:
                current = await storage.get(rt, None, name)
            except errors.APIError as e:
                if e.code != 404:
                    raise
                with contextlib.suppress(errors.APIError):  # another apiserver process was first
                    await storage.create(rt, None, default)
                continue
            updated = reconcile(current, default)
            if updated is not None:
                log.info("reconciling %s %s with the default policy", rt.kind, name)
                with contextlib.suppress(errors.APIError):  # changed meanwhile: the next start retries
                    await storage.update(rt, None, name, updated)
