"""The catalogue of resources the API server serves.

Adding a resource to minik is one ``ResourceType(...)`` entry below: its group,
version, kind and plural name, whether it lives in a namespace, its subresources,
the fields a ``fieldSelector`` may name, and its *strategy* (the per-resource
rules for create/update/delete, see ``strategies.py``). Routing, storage,
watching and discovery are generic and read everything from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from minik.apiserver import strategies
from minik.apiserver.authz import escalation
from minik.apiserver.strategies import Strategy

Obj = dict[str, Any]
FieldGetter = Callable[[Obj], str]


def _path(*keys: str, default: str = "") -> FieldGetter:
    """A getter for a nested string field, e.g. ``_path("spec", "nodeName")``."""

    def getter(obj: Obj) -> str:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, dict):
                return default
            cur = cur.get(k)
        if cur is None:
            return default
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return getter


_COMMON_FIELDS: dict[str, FieldGetter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    extra_fields: Mapping[str, FieldGetter] = field(default_factory=dict)
    strategy: Strategy = field(default_factory=Strategy)
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def type_key(self) -> str:
        """``<apiVersion>/<Kind>``, how defaults, validation and patches name a type."""
        return f"{self.api_version}/{self.kind}"

    @property
    def storage_prefix(self) -> str:
        """Objects live at ``/registry/<plural>/<namespace>/<name>`` (cluster-scoped: no namespace)."""
        return f"/registry/{self.plural}/"

    @property
    def field_getters(self) -> Mapping[str, FieldGetter]:
        return {**_COMMON_FIELDS, **self.extra_fields}

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def fields_of(self, obj: Obj) -> dict[str, str]:
        """The values a field selector can match, for one object."""
        return {name: getter(obj) for name, getter in self.field_getters.items()}


_POD_FIELDS = {
    "spec.nodeName": _path("spec", "nodeName"),
    "spec.restartPolicy": _path("spec", "restartPolicy"),
    "spec.schedulerName": _path("spec", "schedulerName"),
    "spec.serviceAccountName": _path("spec", "serviceAccountName"),
    "spec.hostNetwork": _path("spec", "hostNetwork", default="false"),
    "status.phase": _path("status", "phase"),
    "status.podIP": _path("status", "podIP"),
    "status.nominatedNodeName": _path("status", "nominatedNodeName"),
}
_EVENT_FIELDS = {
    f"involvedObject.{f}": _path("involvedObject", f)
    for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
} | {
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
}

_WORKLOAD = ("all",)

RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    ResourceType(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        subresources=("status", "finalize"),
        extra_fields={"status.phase": _path("status", "phase")},
        strategy=strategies.NamespaceStrategy(),
    ),
    ResourceType(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        ("no",),
        subresources=("status",),
        extra_fields={"spec.unschedulable": _path("spec", "unschedulable", default="false")},
        strategy=strategies.NodeStrategy(),
    ),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        _WORKLOAD,
        subresources=("status", "binding", "log", "exec", "eviction"),
        extra_fields=_POD_FIELDS,
        strategy=strategies.PodStrategy(),
    ),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        _WORKLOAD,
        subresources=("status",),
        extra_fields={"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
        strategy=strategies.ServiceStrategy(),
    ),
    ResourceType("", "v1", "Endpoints", "endpoints", True, ("ep",), strategy=strategies.NoStatusStrategy()),
    ResourceType(
        "",
        "v1",
        "Event",
        "events",
        True,
        ("ev",),
        extra_fields=_EVENT_FIELDS,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    ResourceType(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        True,
        ("cm",),
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    ResourceType(
        "",
        "v1",
        "Secret",
        "secrets",
        True,
        (),
        extra_fields={"type": _path("type")},
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    ResourceType(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        True,
        ("rc",),
        _WORKLOAD,
        subresources=("status", "scale"),
        extra_fields={"status.replicas": _path("status", "replicas")},
        strategy=strategies.ScalableStrategy(),
    ),
    ResourceType(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        ("pvc",),
        subresources=("status",),
        strategy=strategies.Strategy(),
    ),
    ResourceType(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        True,
        ("sa",),
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # apps/v1
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        _WORKLOAD,
        subresources=("status", "scale"),
        strategy=strategies.ScalableStrategy(),
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        _WORKLOAD,
        subresources=("status", "scale"),
        extra_fields={"status.replicas": _path("status", "replicas")},
        strategy=strategies.ScalableStrategy(),
    ),
    ResourceType(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        _WORKLOAD,
        subresources=("status", "scale"),
        strategy=strategies.ScalableStrategy(),
    ),
    ResourceType(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        ("ds",),
        _WORKLOAD,
        subresources=("status",),
        strategy=strategies.Strategy(),
    ),
    ResourceType(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        True,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # batch/v1
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        True,
        (),
        _WORKLOAD,
        subresources=("status",),
        extra_fields={"status.successful": _path("status", "succeeded")},
        strategy=strategies.Strategy(),
    ),
    # discovery.k8s.io/v1
    ResourceType(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        True,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # coordination.k8s.io/v1
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        True,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # rbac.authorization.k8s.io/v1 (writes check escalation: authz/escalation.py)
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "Role", "roles", True, strategy=escalation.RoleStrategy()
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        False,
        strategy=escalation.ClusterRoleStrategy(),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        True,
        strategy=escalation.RoleBindingStrategy(),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        strategy=escalation.ClusterRoleBindingStrategy(),
    ),
    # authorization.k8s.io/v1: questions to the authorizer, answered and never stored (authz/reviews.py)
    *(
        ResourceType("authorization.k8s.io", "v1", kind, plural, namespaced, verbs=("create",))
        for kind, plural, namespaced in (
            ("LocalSubjectAccessReview", "localsubjectaccessreviews", True),
            ("SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
            ("SelfSubjectRulesReview", "selfsubjectrulesreviews", False),
            ("SubjectAccessReview", "subjectaccessreviews", False),
        )
    ),
)


class Registry:
    """Look resources up the ways requests name them."""

    def __init__(self, resources: tuple[ResourceType, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.api_version, r.kind): r for r in resources}

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.resources)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def group_versions(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for r in self.resources:
            seen[(r.group, r.version)] = None
        return list(seen)

    def for_storage_key(self, key: str) -> ResourceType | None:
        """The resource whose objects live under ``key`` (``/registry/<plural>/...``)."""
        parts = key.split("/", 3)
        if len(parts) < 3:
            return None
        return self._by_plural.get(parts[2])

    @property
    def _by_plural(self) -> dict[str, ResourceType]:
        cached: dict[str, ResourceType] | None = self.__dict__.get("_plural_cache")
        if cached is None:
            cached = {r.plural: r for r in self.resources}
            self.__dict__["_plural_cache"] = cached
        return cached
