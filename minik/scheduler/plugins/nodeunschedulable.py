"""NodeUnschedulable: keep pods off cordoned nodes (``spec.unschedulable: true``).

``kubectl cordon`` sets the flag; the node lifecycle controller also taints
the node ``node.kubernetes.io/unschedulable:NoSchedule``. A pod that
tolerates that taint may go to a cordoned node anyway (DaemonSet pods do).
The rejection is *unresolvable*: preemption cannot uncordon a node.
"""

from __future__ import annotations

from minik.api.taints import NO_SCHEDULE, Taint, tolerates_taint, tolerations_of
from minik.scheduler.framework.interface import ClusterEventWithHint, EnqueueExtensions, FilterPlugin
from minik.scheduler.framework.types import (
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)

REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", NO_SCHEDULE)


class NodeUnschedulable(FilterPlugin, EnqueueExtensions):
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerates_taint(tolerations_of(pod.spec), UNSCHEDULABLE_TAINT):
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON,))

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        return self.reject_rest(state, pod, nodes, [n for n in nodes if not n.unschedulable], statuses)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE))]
