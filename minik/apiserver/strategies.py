"""Per-resource rules for writes: upstream's "REST strategies".

The generic write path (``rest.py``) does the same steps for every resource; a
strategy supplies the parts that differ between kinds:

* what a new object's ``status`` starts as (a Pod starts ``Pending``; a Node
  may be created with the status its kubelet reports);
* that writes to the main resource never change ``status`` and writes to the
  ``/status`` subresource change nothing *but* ``status``;
* whether the kind has a ``metadata.generation`` (bumped when the spec changes,
  which is how controllers report ``observedGeneration``);
* how long a delete waits (Pods terminate gracefully on their node);
* extra etcd operations that must commit atomically with the write
  (a Service's ClusterIP and NodePorts, see ``allocator.py``).
"""

from __future__ import annotations

import copy
from typing import Any

from minik.api import errors
from minik.api.defaults import initial_pod_status
from minik.apiserver.allocator import ServiceAllocator, WritePlan

Obj = dict[str, Any]


class Strategy:
    """The default: a kind with spec, status and generation (Deployments, Jobs, ...)."""

    has_status = True
    has_generation = True

    def initial_status(self, obj: Obj) -> Obj | None:
        """The status a newly created object starts with (None: no status field)."""
        return {}

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status:
            status = self.initial_status(obj)
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """A main-resource write keeps the stored status."""
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """A ``/status`` write: the stored object with only its status replaced."""
        result = copy.deepcopy(old)
        result["status"] = new.get("status") or {}
        return result

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds a delete waits before the object really goes (0: at once)."""
        return 0

    def plan_create(self, obj: Obj) -> WritePlan:
        return WritePlan()

    def plan_update(self, new: Obj, old: Obj) -> WritePlan:
        return WritePlan()

    def plan_delete(self, obj: Obj) -> WritePlan:
        return WritePlan()


class NoStatusStrategy(Strategy):
    """Kinds that are all data (ConfigMap, Secret, Endpoints, Lease, Event, ...)."""

    has_status = False

    def __init__(self, *, has_generation: bool = True) -> None:
        self.has_generation = has_generation

    def prepare_for_create(self, obj: Obj) -> None:
        pass

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        pass


class ScalableStrategy(Strategy):
    """Workloads with a ``/scale`` subresource (Deployment, ReplicaSet, StatefulSet, RC)."""


class ResourceQuotaStrategy(Strategy):
    """A quota starts with an empty status: its controller fills in ``hard`` and ``used``
    (and admission charges ``used``), never the client that creates it."""

    has_generation = False


class PodStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Obj | None:
        return initial_pod_status(obj)

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        # A pod that never reached a node, or has already finished, has nothing to
        # stop: it is deleted at once. Otherwise its kubelet gets the grace period
        # to send SIGTERM, wait, and finish the delete with gracePeriodSeconds=0.
        if not obj.get("spec", {}).get("nodeName"):
            return 0
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is None:
            grace = obj.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            requested = grace if isinstance(grace, int) else 30
        # As upstream: a negative period (asked for, or in the spec, where it is only
        # warned about) means "as short as possible" -- one second, not a time past.
        return 1 if requested < 0 else requested


class NodeStrategy(Strategy):
    """Nodes may be created with a status: the kubelet registers what it sees."""

    has_generation = False

    def prepare_for_create(self, obj: Obj) -> None:
        obj.setdefault("status", {})


class NamespaceStrategy(Strategy):
    has_generation = False

    def initial_status(self, obj: Obj) -> Obj | None:
        return {"phase": "Active"}


class ServiceStrategy(Strategy):
    """Services get a ClusterIP and NodePorts from allocators committed with the write."""

    def __init__(self) -> None:
        self.allocator: ServiceAllocator | None = None

    def initial_status(self, obj: Obj) -> Obj | None:
        return {"loadBalancer": {}}

    def _alloc(self) -> ServiceAllocator:
        if self.allocator is None:
            raise errors.internal("service allocator not configured")
        return self.allocator

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _drop_type_dependent_fields(new, old)
        self._alloc().carry_over(new, old)

    def plan_create(self, obj: Obj) -> WritePlan:
        return self._alloc().plan_create(obj)

    def plan_update(self, new: Obj, old: Obj) -> WritePlan:
        return self._alloc().plan_update(new, old)

    def plan_delete(self, obj: Obj) -> WritePlan:
        return self._alloc().plan_release(obj)


_EXTERNAL_TYPES = ("NodePort", "LoadBalancer")


def _drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Changing ``type`` away from NodePort/LoadBalancer drops what only those types use.

    Like upstream, a field is dropped only if the client left it as it was: someone
    who sends ``type: ClusterIP`` with an explicit new ``externalTrafficPolicy`` still
    gets the validation error that explains it.
    """
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if old_spec.get("type") not in _EXTERNAL_TYPES or spec.get("type") in _EXTERNAL_TYPES:
        return
    for name in ("externalTrafficPolicy", "healthCheckNodePort", "allocateLoadBalancerNodePorts"):
        if name in spec and spec.get(name) == old_spec.get(name):
            del spec[name]
    old_node_ports = {p.get("nodePort") for p in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        if port.get("nodePort") in old_node_ports:
            port.pop("nodePort", None)
