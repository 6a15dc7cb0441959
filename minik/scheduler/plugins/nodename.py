"""NodeName: a pod that names its node (``spec.nodeName``) fits only there.

Pods created with ``spec.nodeName`` never reach the scheduler (they are
already assigned); the filter matters when plugins are evaluated for such a
pod anyway (a simulation, a future preemption). PreFilter answers SKIP for
every ordinary pod, so the filter costs nothing in the normal cycle.
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

REASON = "node(s) didn't match the requested node name"


class NodeName(PreFilterPlugin, FilterPlugin, EnqueueExtensions):
    name = "NodeName"

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.node_name:
            return None, Status.skip()
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON,))

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE))]
