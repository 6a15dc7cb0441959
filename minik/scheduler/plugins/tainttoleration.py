"""TaintToleration: taints repel pods that do not tolerate them.

* **Filter** — a node's ``NoSchedule`` and ``NoExecute`` taints must all be
  tolerated; the first one that is not is named in the reason, in upstream's
  words: ``node(s) had untolerated taint {key: value}``. Unresolvable.
* **Score** — ``PreferNoSchedule`` taints are a soft version: the score
  counts the node's PreferNoSchedule taints the pod does *not* tolerate
  (only tolerations with effect ``PreferNoSchedule`` or empty count), and
  NormalizeScore reverses it, so the node with the fewest gets 100.

The tolerations are parsed once per pod in PreFilter/PreScore; the matching
rules themselves are :mod:`minik.api.taints`, shared with the DaemonSet and
taint eviction controllers.
"""

from __future__ import annotations

from collections.abc import Sequence

from minik.api.taints import (
    PREFER_NO_SCHEDULE,
    Toleration,
    find_untolerated_taint,
    tolerates_taint,
    tolerations_of,
)
from minik.scheduler.framework.interface import (
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
    default_normalize_score,
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

_FILTER_KEY = "PreFilterTaintToleration"
_SCORE_KEY = "PreScoreTaintToleration"


def untolerated_reason(key: str, value: str) -> str:
    return f"node(s) had untolerated taint {{{key}: {value}}}"


def _prefer_tolerations(pod: PodInfo) -> tuple[Toleration, ...]:
    """The tolerations that count for scoring: effect ``PreferNoSchedule`` or empty."""
    return tuple(t for t in tolerations_of(pod.spec) if t.effect in ("", PREFER_NO_SCHEDULE))


class TaintToleration(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "TaintToleration"

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        state.write(_FILTER_KEY, tolerations_of(pod.spec))
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taints = node.hard_taints
        if not taints:
            return None
        try:
            tolerations: tuple[Toleration, ...] = state.data[_FILTER_KEY]
        except KeyError:
            tolerations = tolerations_of(pod.spec)
        taint = find_untolerated_taint(taints, tolerations)
        if taint is None:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (untolerated_reason(taint.key, taint.value),))

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        return self.reject_rest(state, pod, nodes, [n for n in nodes if not n.hard_taints], statuses)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        state.write(_SCORE_KEY, _prefer_tolerations(pod))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        taints = node.prefer_taints
        if not taints:
            return 0
        try:
            tolerations: tuple[Toleration, ...] = state.data[_SCORE_KEY]
        except KeyError:
            tolerations = _prefer_tolerations(pod)
        return sum(1 for taint in taints if not tolerates_taint(tolerations, taint))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        score = self.score
        return [score(state, pod, node) if node.prefer_taints else 0 for node in nodes]

    def normalize_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> Status | None:
        default_normalize_score(scores, reverse=True)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE))]
