"""One pod informer per kubelet *process*, split into one view per node.

A kubelet watches the pods bound to its node (``fieldSelector=spec.nodeName=<node>``).
A process that runs many fake nodes (``--fake-nodes 1000``) must not open one such watch
per node: a thousand watches would each hold a connection and a server-side watcher, and
every pod event would be encoded a thousand times. kwok's answer, and minik's, is one
watch on every *bound* pod (``spec.nodeName!=``), cached once and indexed by
``spec.nodeName`` (:data:`~minik.client.store.NODE_NAME_INDEX`); each node's
:class:`NodePods` view sees only its own pods, and an event is handed to exactly one
node's handlers — a dictionary lookup, not a scan over the nodes.

A process with a single node keeps the narrow selector, so a real kubelet still lists
only its own pods.

:class:`NodePods` has the part of :class:`~minik.client.informer.Informer` the
:class:`~minik.kubelet.kubelet.Kubelet` uses (handlers, sync, ``get``/``list``); starting
a view only unsubscribes its handlers, because the shared informer belongs to the process.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Protocol

from minik.client.informer import AddHandler, DeleteHandler, Informer, ListWatcher, UpdateHandler
from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.client.store import NODE_NAME_INDEX

log = logging.getLogger(__name__)


class PodCache(Protocol):
    """What a :class:`~minik.kubelet.kubelet.Kubelet` needs from its pod informer."""

    def add_event_handler(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> object: ...

    @property
    def running(self) -> bool: ...

    def start(self) -> object: ...

    async def stop(self) -> None: ...

    async def wait_for_sync(self, timeout: float | None = None) -> bool: ...

    def get(self, key: str) -> Obj | None: ...

    def list(self, *, namespace: str | None = None) -> list[Obj]: ...


def node_of(pod: Obj) -> str:
    spec = pod.get("spec")
    return str(spec.get("nodeName") or "") if isinstance(spec, dict) else ""


class _Handlers:
    __slots__ = ("on_add", "on_delete", "on_update")

    def __init__(
        self, on_add: AddHandler | None, on_update: UpdateHandler | None, on_delete: DeleteHandler | None
    ) -> None:
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete


class SharedPodInformer:
    """The process's one pod informer, dispatching each event to the pod's node only."""

    def __init__(self, client: ListWatcher, nodes: Collection[str]) -> None:
        names = list(nodes)
        selector = f"spec.nodeName={names[0]}" if len(names) == 1 else "spec.nodeName!="
        self.informer = Informer(client, PODS, field_selector=selector)
        self._handlers: dict[str, list[_Handlers]] = {}
        self.informer.add_event_handler(
            on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete
        )

    def view(self, node: str) -> NodePods:
        """The pods of ``node``, as a :class:`PodCache`."""
        return NodePods(self, node)

    def subscribe(self, node: str, handlers: _Handlers) -> None:
        self._handlers.setdefault(node, []).append(handlers)

    def unsubscribe(self, node: str, handlers: _Handlers) -> None:
        mine = self._handlers.get(node, [])
        if handlers in mine:
            mine.remove(handlers)

    def pods_of(self, node: str) -> list[Obj]:
        return self.informer.store.by_index(NODE_NAME_INDEX, node)

    # -- dispatch: one dict lookup per event --------------------------------------------------

    def _each(self, node: str) -> list[_Handlers]:
        return self._handlers.get(node, [])

    @staticmethod
    def _call(func: Any, *args: Obj) -> None:
        try:
            func(*args)
        except Exception:  # one node's broken handler must not starve the others
            log.exception("pod event handler %s failed", getattr(func, "__qualname__", func))

    def _on_add(self, pod: Obj) -> None:
        for h in self._each(node_of(pod)):
            if h.on_add is not None:
                self._call(h.on_add, pod)

    def _on_update(self, old: Obj, new: Obj) -> None:
        # spec.nodeName never changes once set, so old and new belong to the same node.
        for h in self._each(node_of(new)):
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _on_delete(self, pod: Obj) -> None:
        for h in self._each(node_of(pod)):
            if h.on_delete is not None:
                self._call(h.on_delete, pod)


class NodePods:
    """One node's slice of a :class:`SharedPodInformer` (see the module docs)."""

    def __init__(self, shared: SharedPodInformer, node: str) -> None:
        self.shared = shared
        self.node = node
        self._mine: list[_Handlers] = []

    def add_event_handler(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> object:
        handlers = _Handlers(on_add, on_update, on_delete)
        self.shared.subscribe(self.node, handlers)
        self._mine.append(handlers)
        if on_add is not None:
            for pod in self.shared.pods_of(self.node):
                on_add(pod)
        return handlers

    @property
    def running(self) -> bool:
        return True  # the process starts and stops the shared informer

    def start(self) -> object:
        return None

    async def stop(self) -> None:
        """Unsubscribe this view's handlers (the shared informer keeps running)."""
        for handlers in self._mine:
            self.shared.unsubscribe(self.node, handlers)
        self._mine.clear()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        return await self.shared.informer.wait_for_sync(timeout)

    def get(self, key: str) -> Obj | None:
        pod = self.shared.informer.get(key)
        return pod if pod is not None and node_of(pod) == self.node else None

    def list(self, *, namespace: str | None = None) -> list[Obj]:
        pods = self.shared.pods_of(self.node)
        if namespace is None:
            return pods
        return [p for p in pods if (p.get("metadata") or {}).get("namespace") == namespace]
