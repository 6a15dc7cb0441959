"""The catalogue of built-in kinds: which resource serves which kind, at which URL.

This is the one list of the kinds minik knows.  The API server serves a subset of it (its
``minik.apiserver.registry`` adds, per served kind, the subresources, field selectors and
write rules); clients address resources through it (``minik.client.kinds`` re-exports it).
It lives in ``minik.api`` because both sides need it and ``api`` is the layer both may
import.

The Kubernetes REST API is addressed by *resource* (the lower-case plural,
``pods``), not by kind (``Pod``), and the path depends on the API group and on
whether the resource lives in a namespace::

    /api/v1/namespaces/{ns}/pods/{name}[/status]        core group ("" / v1)
    /api/v1/nodes/{name}                                 cluster-scoped
    /apis/apps/v1/namespaces/{ns}/deployments/{name}     named group
    /apis/apps/v1/deployments                            list across namespaces

A real client discovers this mapping from ``/api`` and ``/apis``; minik's
components only speak to built-in kinds, so the table below is static, and
:class:`ResourceRef` carries everything needed to build a URL. A ref for a
custom resource can be made by hand: ``ResourceRef("example.com", "v1",
"widgets", "Widget", namespaced=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """One REST resource: its group/version, plural name, kind and scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` (``pods`` for the core group), as errors spell it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(
        self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path for a collection or one object (and a subresource of it).

        A namespaced resource without ``namespace`` addresses the collection
        across all namespaces (only meaningful for list and watch).
        """
        parts = [self.base_path()]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{_segment(namespace)}")
        elif not self.namespaced and namespace:
            raise ValueError(f"{self.group_resource} is cluster-scoped; got namespace {namespace!r}")
        parts.append(self.plural)
        if name is not None:
            if not name:
                raise ValueError(f"empty name for {self.group_resource}")
            parts.append(_segment(name))
            if subresource:
                parts.append(_segment(subresource))
        elif subresource:
            raise ValueError("a subresource needs an object name")
        return "/".join(parts)

    def __str__(self) -> str:
        return self.group_resource


def _segment(value: str) -> str:
    return quote(value, safe="")


def _core(plural: str, kind: str, namespaced: bool, *short: str) -> ResourceRef:
    return ResourceRef("", "v1", plural, kind, namespaced, short)


PODS = _core("pods", "Pod", True, "po")
SERVICES = _core("services", "Service", True, "svc")
ENDPOINTS = _core("endpoints", "Endpoints", True, "ep")
NODES = _core("nodes", "Node", False, "no")
NAMESPACES = _core("namespaces", "Namespace", False, "ns")
CONFIGMAPS = _core("configmaps", "ConfigMap", True, "cm")
SECRETS = _core("secrets", "Secret", True)
EVENTS = _core("events", "Event", True, "ev")
REPLICATIONCONTROLLERS = _core("replicationcontrollers", "ReplicationController", True, "rc")
PERSISTENTVOLUMECLAIMS = _core("persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc")
PERSISTENTVOLUMES = _core("persistentvolumes", "PersistentVolume", False, "pv")
SERVICEACCOUNTS = _core("serviceaccounts", "ServiceAccount", True, "sa")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment", True, ("deploy",))
REPLICASETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",))
STATEFULSETS = ResourceRef("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",))
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",))
CONTROLLERREVISIONS = ResourceRef("apps", "v1", "controllerrevisions", "ControllerRevision", True)
JOBS = ResourceRef("batch", "v1", "jobs", "Job", True)
CRONJOBS = ResourceRef("batch", "v1", "cronjobs", "CronJob", True, ("cj",))
ENDPOINTSLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
PODDISRUPTIONBUDGETS = ResourceRef(
    "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",)
)
INGRESSES = ResourceRef("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",))
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", "Lease", True)
ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", "Role", True)
CLUSTERROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
ROLEBINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True)
CLUSTERROLEBINDINGS = ResourceRef(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
)
#: Questions about identity and to the authorizer (create-only; the answer comes back, nothing is stored).
TOKENREVIEWS = ResourceRef("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False)
SELFSUBJECTREVIEWS = ResourceRef(
    "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False
)
LOCALSUBJECTACCESSREVIEWS = ResourceRef(
    "authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True
)
SELFSUBJECTACCESSREVIEWS = ResourceRef(
    "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False
)
SELFSUBJECTRULESREVIEWS = ResourceRef(
    "authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False
)
SUBJECTACCESSREVIEWS = ResourceRef(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False
)
PRIORITYCLASSES = ResourceRef("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",))

#: Every built-in resource minik knows (the API server serves those in its registry).
BUILTIN: tuple[ResourceRef, ...] = (
    PODS,
    SERVICES,
    ENDPOINTS,
    NODES,
    NAMESPACES,
    CONFIGMAPS,
    SECRETS,
    EVENTS,
    REPLICATIONCONTROLLERS,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    SERVICEACCOUNTS,
    DEPLOYMENTS,
    REPLICASETS,
    STATEFULSETS,
    DAEMONSETS,
    CONTROLLERREVISIONS,
    JOBS,
    CRONJOBS,
    ENDPOINTSLICES,
    INGRESSES,
    PODDISRUPTIONBUDGETS,
    LEASES,
    ROLES,
    CLUSTERROLES,
    ROLEBINDINGS,
    CLUSTERROLEBINDINGS,
    TOKENREVIEWS,
    SELFSUBJECTREVIEWS,
    LOCALSUBJECTACCESSREVIEWS,
    SELFSUBJECTACCESSREVIEWS,
    SELFSUBJECTRULESREVIEWS,
    SUBJECTACCESSREVIEWS,
    PRIORITYCLASSES,
)

_BY_GVK: dict[tuple[str, str], ResourceRef] = {(r.api_version, r.kind): r for r in BUILTIN}
_BY_NAME: dict[str, ResourceRef] = {}
for _ref in BUILTIN:
    for _alias in (_ref.plural, _ref.kind.lower(), _ref.group_resource, *_ref.short_names):
        _BY_NAME.setdefault(_alias.lower(), _ref)


def lookup(name: str) -> ResourceRef:
    """A built-in resource by plural, kind, short name or ``plural.group``.

    ``lookup("pods") == lookup("Pod") == lookup("po")``;
    ``lookup("deployments.apps")``. Raises ``KeyError`` for unknown names.
    """
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise KeyError(f"unknown resource {name!r}") from None


def for_kind(api_version: str, kind: str) -> ResourceRef:
    """The resource serving ``(apiVersion, kind)``; ``KeyError`` if not built in."""
    try:
        return _BY_GVK[(api_version, kind)]
    except KeyError:
        raise KeyError(f"no built-in resource for {api_version} {kind}") from None


def for_object(obj: Mapping[str, Any]) -> ResourceRef:
    """The resource an object belongs to, from its ``apiVersion`` and ``kind``."""
    return for_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))


def resolve(resource: ResourceRef | str) -> ResourceRef:
    """Accept a :class:`ResourceRef` or any name :func:`lookup` understands."""
    return resource if isinstance(resource, ResourceRef) else lookup(resource)


__all__ = [
    "BUILTIN",
    "CONFIGMAPS",
    "CONTROLLERREVISIONS",
    "CRONJOBS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "ENDPOINTSLICES",
    "EVENTS",
    "INGRESSES",
    "JOBS",
    "LEASES",
    "NAMESPACES",
    "NODES",
    "PERSISTENTVOLUMECLAIMS",
    "PERSISTENTVOLUMES",
    "PODDISRUPTIONBUDGETS",
    "PODS",
    "PRIORITYCLASSES",
    "REPLICASETS",
    "REPLICATIONCONTROLLERS",
    "SECRETS",
    "SELFSUBJECTREVIEWS",
    "SERVICEACCOUNTS",
    "SERVICES",
    "STATEFULSETS",
    "TOKENREVIEWS",
    "ResourceRef",
    "for_kind",
    "for_object",
    "lookup",
    "resolve",
]
