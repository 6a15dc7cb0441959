"""NodeAffinity: ``nodeSelector`` and node affinity, hard and soft.

* **PreFilter** compiles the pod's ``nodeSelector`` and required node affinity
  once (the matching rules are :mod:`minik.api.nodeaffinity`, shared with the
  DaemonSet controller) and answers SKIP when there is neither. When *every* term pins
  ``matchFields: metadata.name In [...]`` — what DaemonSet pods do — it
  returns those node names as a PreFilterResult, so only they are filtered;
  terms that contradict each other fail the pod at once (``pod affinity terms
  conflict``).
* **Filter** — ``node(s) didn't match Pod's node affinity/selector``,
  unresolvable.
* **Score** — the sum of the weights of the matching
  ``preferredDuringSchedulingIgnoredDuringExecution`` terms, normalized so
  the best node gets 100.

Args (upstream ``NodeAffinityArgs``): ``addedAffinity`` — a node affinity
applied to every pod of the profile on top of its own (required terms filter
with ``node(s) didn't match scheduler-enforced node affinity``, preferred
terms add to the score).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from minik.api.nodeaffinity import NodeSelectorTerm, RequiredNodeAffinity, compile_terms
from minik.scheduler.framework.interface import (
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
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

REASON_POD = "node(s) didn't match Pod's node affinity/selector"
REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
REASON_CONFLICT = "pod affinity terms conflict"

_FILTER_KEY = "PreFilterNodeAffinity"
_SCORE_KEY = "PreScoreNodeAffinity"


def _preferred_terms(node_affinity: Any) -> list[tuple[int, NodeSelectorTerm]]:
    if not isinstance(node_affinity, dict):
        return []
    out: list[tuple[int, NodeSelectorTerm]] = []
    for item in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        if not isinstance(item, dict):
            continue
        weight = item.get("weight")
        if not isinstance(weight, int) or weight == 0:
            continue
        for term in compile_terms([item.get("preference") or {}]):
            out.append((weight, term))
    return out


def _node_name_pins(spec: Mapping[str, Any]) -> set[str] | None:
    """Node names every required term pins with ``matchFields metadata.name In`` (None: not all do)."""
    affinity = spec.get("affinity")
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
    required = (
        node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(node_affinity, dict)
        else None
    )
    if not isinstance(required, dict):
        return None
    names: set[str] | None = None
    for term in required.get("nodeSelectorTerms") or ():
        term_names: set[str] | None = None
        for req in (term or {}).get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = {str(v) for v in req.get("values") or ()}
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term allows any node: the terms are ORed
        names = term_names if names is None else names | term_names
    return names


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "NodeAffinity"
    default_args: ClassVar[Mapping[str, Any]] = {"addedAffinity": None}

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        super().__init__(args, handle)
        added = args.get("addedAffinity")
        self.added_required: RequiredNodeAffinity | None = None
        self.added_preferred: list[tuple[int, NodeSelectorTerm]] = []
        if added is not None:
            if not isinstance(added, dict):
                raise ValueError("addedAffinity must be a NodeAffinity object")
            required = RequiredNodeAffinity({"affinity": {"nodeAffinity": added}})
            self.added_required = None if required.empty else required
            self.added_preferred = _preferred_terms(added)

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        required = RequiredNodeAffinity(pod.spec)
        if required.empty and self.added_required is None:
            return None, Status.skip()
        state.write(_FILTER_KEY, required)
        if required.terms is not None:
            pins = _node_name_pins(pod.spec)
            if pins is not None:
                if not pins:
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_CONFLICT,))
                return PreFilterResult(pins), None
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if self.added_required is not None and not self.added_required.matches(node.labels, node.name):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_ENFORCED,))
        try:
            required: RequiredNodeAffinity = state.data[_FILTER_KEY]
        except KeyError:
            required = RequiredNodeAffinity(pod.spec)
        if not required.matches(node.labels, node.name):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_POD,))
        return None

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        required: RequiredNodeAffinity | None = state.data.get(_FILTER_KEY)
        if required is None or self.added_required is not None:
            return super().filter_nodes(state, pod, nodes, statuses)
        matches = required.matches
        rejected = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_POD,), self.name)
        passed: list[NodeInfo] = []
        for node in nodes:
            if matches(node.labels, node.name):
                passed.append(node)
            else:
                statuses[node.name] = rejected  # one shared verdict object: read-only
        return passed

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        affinity = pod.spec.get("affinity")
        terms = _preferred_terms(affinity.get("nodeAffinity") if isinstance(affinity, dict) else None)
        terms += self.added_preferred
        if not terms:
            return Status.skip()
        state.write(_SCORE_KEY, terms)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        try:
            terms: list[tuple[int, NodeSelectorTerm]] = state.data[_SCORE_KEY]
        except KeyError:
            affinity = pod.spec.get("affinity")
            terms = _preferred_terms(affinity.get("nodeAffinity") if isinstance(affinity, dict) else None)
            terms += self.added_preferred
        labels, name = node.labels, node.name
        return sum(weight for weight, term in terms if term.matches(labels, name))

    def normalize_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> Status | None:
        default_normalize_score(scores, reverse=False)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE))]
