"""Informer events into the cache and the queue (upstream ``eventhandlers.go``).

One pod informer (all namespaces, field selector
``status.phase!=Succeeded,status.phase!=Failed`` like upstream, so a pod that
finishes *leaves* the informer and frees its node) feeds two consumers:

* **assigned pods** (``spec.nodeName`` set, any scheduler's) go to the
  :class:`~minik.scheduler.cache.Cache`, so resources taken by pods other
  schedulers placed are counted too; each add/update/delete is also a cluster
  event that may release parked pods (``AssignedPodAdd`` etc.);
* **unassigned pods** whose ``schedulerName`` is one of our profiles go to
  the :class:`~minik.scheduler.queue.SchedulingQueue`. A pod that becomes
  assigned leaves the queue — whoever bound it — and our own assumption of it
  is confirmed in the cache.

The node informer updates the cache; an added node, or a change of what
scheduling looks at (labels, taints, ``unschedulable``, allocatable, images —
not heartbeats), is a ``NodeAdd``/``NodeUpdate`` event. A namespace informer
gives InterPodAffinity the labels ``namespaceSelector`` terms match against.

Handlers run inline in the informer task and only touch in-memory structures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from minik.client.informer import Informer
from minik.client.objects import Obj
from minik.scheduler.framework.types import PodInfo
from minik.scheduler.queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    NODE_ADD,
    NODE_UPDATE,
)
from minik.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

#: The pod informer's field selector (upstream's): terminated pods hold no resources.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"


def _assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _node_scheduling_properties(node: Obj) -> tuple[Any, ...]:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    return (
        meta.get("labels"),
        spec.get("taints"),
        spec.get("unschedulable"),
        status.get("allocatable"),
        status.get("images"),
    )


class InformerNamespaces:
    """:class:`~minik.scheduler.framework.interface.NamespaceLister` over a namespace informer."""

    def __init__(self, informer: Informer) -> None:
        self._informer = informer

    def labels(self, name: str) -> Mapping[str, str] | None:
        ns = self._informer.get(name)
        if ns is None:
            return None
        labels: Mapping[str, str] = (ns.get("metadata") or {}).get("labels") or {}
        return labels

    def names(self) -> Sequence[tuple[str, Mapping[str, str]]]:
        return [
            (str((ns.get("metadata") or {}).get("name")), (ns.get("metadata") or {}).get("labels") or {})
            for ns in self._informer.list()
        ]


class InformerBudgets:
    """:class:`~minik.scheduler.framework.interface.BudgetLister` over a PodDisruptionBudget informer."""

    def __init__(self, informer: Informer) -> None:
        self._informer = informer

    def budgets(self, namespace: str) -> Sequence[Obj]:
        return self._informer.list(namespace=namespace)


class EventHandlers:
    """The informer callbacks for one :class:`Scheduler` (see the module docs)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    # -- pods -----------------------------------------------------------------------------------

    def on_pod_add(self, pod: Obj) -> None:
        s = self.scheduler
        if _assigned(pod):
            info = PodInfo.from_pod(pod)
            s.cache.add_pod(info)
            s.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, info)
        elif s.responsible_for(pod) and not _terminating(pod):
            info = PodInfo.from_pod(pod)
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if isinstance(nominated, str) and nominated:
                s.nominator.add(info, nominated)  # nominated before a restart: keep its room
            s.queue.add(info)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        s = self.scheduler
        if _assigned(new):
            info = PodInfo.from_pod(new)
            if not _assigned(old):
                # Bound (by us or anyone): out of the queue, assumption confirmed.
                s.queue.delete(info.key)
                s.nominator.delete(info.key)
                s.cache.add_pod(info)
                s.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, info)
            else:
                s.cache.update_pod(old, info)
                s.queue.move_all_to_active_or_backoff(ASSIGNED_POD_UPDATE, None, info)
            return
        if not s.responsible_for(new):
            if s.responsible_for(old):
                s.queue.delete(PodInfo.from_pod(new).key)
            return
        info = PodInfo.from_pod(new)
        if _terminating(new):
            s.queue.delete(info.key)
            s.nominator.delete(info.key)
            return
        if s.cache.is_assumed(info.uid):
            return  # we placed it; the binding's own update will follow
        s.queue.update(PodInfo.from_pod(old) if s.responsible_for(old) else None, info)

    def on_pod_delete(self, pod: Obj) -> None:
        s = self.scheduler
        info = PodInfo.from_pod(pod)
        if _assigned(pod) or s.cache.get_pod(info.uid) is not None:
            cached = s.cache.get_pod(info.uid)
            s.cache.remove_pod(info)
            s.queue.delete(info.key)
            s.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, cached or info, None)
        else:
            s.queue.delete(info.key)
            s.nominator.delete(info.key)

    # -- nodes ----------------------------------------------------------------------------------

    def on_node_add(self, node: Obj) -> None:
        s = self.scheduler
        s.cache.add_node(node)
        s.queue.move_all_to_active_or_backoff(NODE_ADD, None, node)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        s = self.scheduler
        s.cache.update_node(new)
        if _node_scheduling_properties(old) != _node_scheduling_properties(new):
            s.queue.move_all_to_active_or_backoff(NODE_UPDATE, old, new)

    def on_node_delete(self, node: Obj) -> None:
        self.scheduler.cache.remove_node(node)

    # -- wiring ---------------------------------------------------------------------------------

    def attach(self, pods: Informer, nodes: Informer) -> None:
        nodes.add_event_handler(
            on_add=self.on_node_add, on_update=self.on_node_update, on_delete=self.on_node_delete
        )
        pods.add_event_handler(
            on_add=self.on_pod_add, on_update=self.on_pod_update, on_delete=self.on_pod_delete
        )
        self.scheduler.pod_lister = pods.get
