"""NodePorts: two pods cannot bind the same host port on one node.

A container port with ``hostPort`` is reachable on the node's address, so a
second pod asking for the same ``(hostIP, protocol, hostPort)`` cannot share
the node. ``hostIP: 0.0.0.0`` (the default) covers every address and so
conflicts with any pod using that protocol and port (upstream
``HostPortInfo.CheckConflict``). PreFilter answers SKIP for pods without host
ports — nearly all of them. The rejection is resolvable (preemption could
evict the holder).
"""

from __future__ import annotations

from collections.abc import Sequence

from minik.scheduler.framework.interface import (
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
)
from minik.scheduler.framework.types import (
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)

REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts(PreFilterPlugin, FilterPlugin, EnqueueExtensions):
    name = "NodePorts"

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.host_ports:
            return None, Status.skip()
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.used_ports:
            return None
        for ip, protocol, port in pod.host_ports:
            if node.port_conflict(ip, protocol, port):
                return Status(Code.UNSCHEDULABLE, (REASON,))
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)),
        ]
