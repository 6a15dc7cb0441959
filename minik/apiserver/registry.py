"""The catalogue of resources the API server serves.

Serving a resource is one ``_served(...)`` entry below: the kind's identity — group,
version, kind and plural name, whether it lives in a namespace, short names — comes
from the one catalogue of kinds, :mod:`minik.api.kinds`, which clients read too; the
entry adds what only the server needs: its subresources, the fields a
``fieldSelector`` may name, and its *strategy* (the per-resource rules for
create/update/delete, see ``strategies.py``). Routing, storage, watching and
discovery are generic and read everything from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from minik.api import kinds
from minik.api.kinds import ResourceRef
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


def _served(ref: ResourceRef, categories: tuple[str, ...] = (), **serving: Any) -> ResourceType:
    """A served resource: its identity from the catalogue of kinds, the rest from here."""
    return ResourceType(
        ref.group, ref.version, ref.kind, ref.plural, ref.namespaced, ref.short_names, categories, **serving
    )


RESOURCES: tuple[ResourceType, ...] = (
    # core/v1
    _served(
        kinds.NAMESPACES,
        subresources=("status", "finalize"),
        extra_fields={"status.phase": _path("status", "phase")},
        strategy=strategies.NamespaceStrategy(),
    ),
    _served(
        kinds.NODES,
        subresources=("status",),
        extra_fields={"spec.unschedulable": _path("spec", "unschedulable", default="false")},
        strategy=strategies.NodeStrategy(),
    ),
    _served(
        kinds.PODS,
        _WORKLOAD,
        subresources=("status", "binding", "log", "exec", "eviction"),
        extra_fields=_POD_FIELDS,
        strategy=strategies.PodStrategy(),
    ),
    _served(
        kinds.SERVICES,
        _WORKLOAD,
        subresources=("status",),
        extra_fields={"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
        strategy=strategies.ServiceStrategy(),
    ),
    _served(kinds.ENDPOINTS, strategy=strategies.NoStatusStrategy()),
    _served(
        kinds.EVENTS,
        extra_fields=_EVENT_FIELDS,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    _served(
        kinds.CONFIGMAPS,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    _served(
        kinds.SECRETS,
        extra_fields={"type": _path("type")},
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    _served(
        kinds.REPLICATIONCONTROLLERS,
        _WORKLOAD,
        subresources=("status", "scale"),
        extra_fields={"status.replicas": _path("status", "replicas")},
        strategy=strategies.ScalableStrategy(),
    ),
    _served(
        kinds.PERSISTENTVOLUMECLAIMS,
        subresources=("status",),
        strategy=strategies.Strategy(),
    ),
    _served(
        kinds.SERVICEACCOUNTS,
        subresources=("token",),  # TokenRequest (authn/endpoints.py)
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # apps/v1
    _served(
        kinds.DEPLOYMENTS,
        _WORKLOAD,
        subresources=("status", "scale"),
        strategy=strategies.ScalableStrategy(),
    ),
    _served(
        kinds.REPLICASETS,
        _WORKLOAD,
        subresources=("status", "scale"),
        extra_fields={"status.replicas": _path("status", "replicas")},
        strategy=strategies.ScalableStrategy(),
    ),
    _served(
        kinds.STATEFULSETS,
        _WORKLOAD,
        subresources=("status", "scale"),
        strategy=strategies.ScalableStrategy(),
    ),
    _served(
        kinds.DAEMONSETS,
        _WORKLOAD,
        subresources=("status",),
        strategy=strategies.Strategy(),
    ),
    _served(
        kinds.CONTROLLERREVISIONS,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # batch/v1
    _served(
        kinds.JOBS,
        _WORKLOAD,
        subresources=("status",),
        extra_fields={"status.successful": _path("status", "succeeded")},
        strategy=strategies.Strategy(),
    ),
    _served(kinds.CRONJOBS, _WORKLOAD, subresources=("status",), strategy=strategies.Strategy()),
    # discovery.k8s.io/v1
    _served(
        kinds.ENDPOINTSLICES,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # scheduling.k8s.io/v1
    _served(
        kinds.PRIORITYCLASSES,
        strategy=strategies.NoStatusStrategy(),
    ),
    # networking.k8s.io/v1 (stored and printed; no ingress controller runs, as upstream without one)
    _served(kinds.INGRESSES, subresources=("status",), strategy=strategies.Strategy()),
    # policy/v1
    _served(kinds.PODDISRUPTIONBUDGETS, subresources=("status",), strategy=strategies.Strategy()),
    # coordination.k8s.io/v1
    _served(
        kinds.LEASES,
        strategy=strategies.NoStatusStrategy(has_generation=False),
    ),
    # rbac.authorization.k8s.io/v1 (writes check escalation: authz/escalation.py)
    _served(kinds.ROLES, strategy=escalation.RoleStrategy()),
    _served(kinds.CLUSTERROLES, strategy=escalation.ClusterRoleStrategy()),
    _served(kinds.ROLEBINDINGS, strategy=escalation.RoleBindingStrategy()),
    _served(kinds.CLUSTERROLEBINDINGS, strategy=escalation.ClusterRoleBindingStrategy()),
    # authorization.k8s.io/v1: questions to the authorizer, answered and never stored (authz/reviews.py)
    *(
        _served(ref, verbs=("create",))
        for ref in (
            kinds.LOCALSUBJECTACCESSREVIEWS,
            kinds.SELFSUBJECTACCESSREVIEWS,
            kinds.SELFSUBJECTRULESREVIEWS,
            kinds.SUBJECTACCESSREVIEWS,
        )
    ),
    # authentication.k8s.io/v1: questions about identity, answered and never stored (authn/endpoints.py)
    _served(kinds.TOKENREVIEWS, verbs=("create",)),
    _served(kinds.SELFSUBJECTREVIEWS, verbs=("create",)),
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
