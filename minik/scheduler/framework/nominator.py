"""Nominated pods: room promised to a preemptor while its victims terminate.

When preemption picks victims on a node, the preemptor cannot bind at once: the
victims get their grace period to stop. Meanwhile the freed room must not go to
someone else, or the preemption was for nothing. Upstream's answer, kept here: the
preemptor is *nominated* to the node (``status.nominatedNodeName``), and every other
pod of lower or equal priority is filtered as if the nominated pod were already
placed there. A pod of *higher* priority ignores the nomination -- it could have
preempted the nominated pod anyway.

A nomination ends when the pod is bound (anywhere), deleted, or displaced by a
higher-priority preemptor nominated to the same node.
"""

from __future__ import annotations

from minik.scheduler.framework.types import NodeInfo, PodInfo


class Nominator:
    """Which pods are nominated to which node (upstream ``nominator``)."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[str, PodInfo]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, pod: PodInfo, node_name: str) -> None:
        self._by_key[pod.key] = (node_name, pod)

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def node_of(self, key: str) -> str | None:
        entry = self._by_key.get(key)
        return entry[0] if entry is not None else None

    def pods_on(self, node_name: str) -> list[PodInfo]:
        return [pod for node, pod in self._by_key.values() if node == node_name]

    def with_nominated(self, node: NodeInfo, pod: PodInfo) -> NodeInfo:
        """``node`` as ``pod`` must see it: with the nominated pods that outrank or equal it.

        Returns ``node`` itself when no such pod is nominated there (the common case:
        no copy); otherwise a copy with those pods added.
        """
        if not self._by_key:
            return node
        reserved = [
            other
            for other in self.pods_on(node.name)
            if other.priority >= pod.priority and other.uid != pod.uid
        ]
        if not reserved:
            return node
        view = node.snapshot()
        for other in reserved:
            view.add_pod(other)
        return view
