"""InterPodAffinity: place pods near (or away from) other pods, by topology.

A ``PodAffinityTerm`` says "pods matching this selector, in these namespaces"
and a ``topologyKey``, a node label such as ``kubernetes.io/hostname`` (one
domain per node) or ``topology.kubernetes.io/zone``. Two nodes are in the same
domain when they carry the same value for that label.

**Filter** — three rules, checked in upstream's order:

1. *the pod's required affinity*: for every term, the node's domain must
   already hold a matching pod (``node(s) didn't match pod affinity rules``,
   unresolvable). Exception: if no pod anywhere matches and the pod matches
   its own terms, it may start the group (otherwise the first replica of a
   self-affine set could never be placed);
2. *the pod's required anti-affinity*: no matching pod in the node's domain
   for any term (``node(s) didn't match pod anti-affinity rules``);
3. *existing pods' required anti-affinity*: no pod already placed has an
   anti-affinity term that matches this pod within the node's domain
   (``node(s) didn't satisfy existing pods anti-affinity rules``) — symmetry:
   pod A refusing to share a zone with B also keeps B out of A's zone.

PreFilter counts matches per ``(topologyKey, value)`` once, so Filter is
dictionary lookups. Without any of the three rules it answers SKIP. The counting
does not walk every pod: the snapshot indexes placed pods by label (rules 1
and 2 look up only pods carrying a ``key=value`` their term requires) and keeps
every distinct term of placed pods with the nodes it occurs on, indexed the same
way (rule 3 checks only terms that could match the incoming pod's labels).
Replicas share their terms, so a thousand pods of one Deployment cost one check.
Upstream walks all pods, in parallel; the results are the same.

**Score** — for preferred terms: each existing pod matching one of the pod's
preferred affinity terms adds the term's weight to every node of its domain
(anti-affinity subtracts); symmetrically existing pods' preferred terms that
match the incoming pod count, and existing pods' *required* affinity terms
count with ``hardPodAffinityWeight`` (default 1). Scores are then scaled
min..max to 0..100.

``namespaceSelector`` terms are resolved to namespace names once per cycle
through the namespace informer (``namespaceSelector: {}`` means all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from minik.scheduler.framework.interface import (
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
)
from minik.scheduler.framework.types import (
    MAX_NODE_SCORE,
    ActionType,
    AffinityTerm,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    WeightedAffinityTerm,
)

REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

_FILTER_KEY = "PreFilterInterPodAffinity"
_SCORE_KEY = "PreScoreInterPodAffinity"

Pair = tuple[str, str]


class _FilterState:
    __slots__ = (
        "affinity_counts",
        "affinity_terms",
        "anti_affinity_counts",
        "anti_affinity_terms",
        "existing_anti_affinity_counts",
        "self_match",
    )

    def __init__(self) -> None:
        self.affinity_terms: list[AffinityTerm] = []
        self.anti_affinity_terms: list[AffinityTerm] = []
        self.affinity_counts: dict[Pair, int] = {}
        self.anti_affinity_counts: dict[Pair, int] = {}
        self.existing_anti_affinity_counts: dict[Pair, int] = {}
        self.self_match = False


def _matches_all(terms: Sequence[AffinityTerm], pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
    if not terms:
        return False
    return all(term.matches(pod, ns_labels) for term in terms)


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "InterPodAffinity"
    default_args: ClassVar[Mapping[str, Any]] = {
        "hardPodAffinityWeight": 1,
        "ignorePreferredTermsOfExistingPods": False,
    }

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        super().__init__(args, handle)
        weight = args.get("hardPodAffinityWeight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise ValueError("hardPodAffinityWeight must be between 0 and 100")
        self.hard_pod_affinity_weight = weight
        self.ignore_preferred_of_existing = bool(args.get("ignorePreferredTermsOfExistingPods"))

    # -- namespaces ---------------------------------------------------------------------------

    def _resolve(self, terms: Sequence[AffinityTerm]) -> list[AffinityTerm]:
        """Resolve non-empty namespace selectors into namespace names (upstream
        ``mergeAffinityTermNamespacesIfNotEmpty``)."""
        out: list[AffinityTerm] = []
        for term in terms:
            selector = term.namespace_selector
            if selector.matches_nothing or selector.empty:
                out.append(term)
                continue
            names = [name for name, labels in self.handle.namespaces.names() if selector.matches(labels)]
            out.append(term.with_namespaces(names))
        return out

    # -- Filter -------------------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        if pod.parse_error:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (pod.parse_error,))
        s = _FilterState()
        s.affinity_terms = self._resolve(pod.required_affinity_terms)
        s.anti_affinity_terms = self._resolve(pod.required_anti_affinity_terms)
        ns_labels = self.handle.namespaces.labels(pod.namespace)
        snapshot = self.handle.snapshot
        # Rule 3: existing pods whose anti-affinity terms match the incoming pod. The
        # snapshot keeps each distinct term with the nodes of the pods carrying it,
        # indexed by a label a matching pod must have: only those terms are checked.
        existing = s.existing_anti_affinity_counts
        by_name = snapshot.node_info_map
        for key in snapshot.terms_for(pod):
            kind, term, _ = key
            if kind != "anti" or not term.matches(pod, ns_labels):
                continue
            for node_name, count in snapshot.term_nodes[key].items():
                value = by_name[node_name].labels.get(term.topology_key)
                if value is not None:
                    pair = (term.topology_key, value)
                    existing[pair] = existing.get(pair, 0) + count
        if not existing and not s.affinity_terms and not s.anti_affinity_terms:
            return None, Status.skip()
        # Rules 1 and 2: existing pods matching the incoming pod's terms, found through
        # the snapshot's label index.
        aff_terms, anti_terms = s.affinity_terms, s.anti_affinity_terms
        if aff_terms:
            affinity = s.affinity_counts
            for other, node in snapshot.matching_pods(aff_terms[0].selector):
                if _matches_all(aff_terms, other, None):
                    labels = node.labels
                    for term in aff_terms:
                        value = labels.get(term.topology_key)
                        if value is not None:
                            pair = (term.topology_key, value)
                            affinity[pair] = affinity.get(pair, 0) + 1
            s.self_match = _matches_all(aff_terms, pod, ns_labels)
        anti = s.anti_affinity_counts
        for term in anti_terms:
            for other, node in snapshot.matching_pods(term.selector):
                if term.matches(other, None):
                    value = node.labels.get(term.topology_key)
                    if value is not None:
                        pair = (term.topology_key, value)
                        anti[pair] = anti.get(pair, 0) + 1
        state.write(_FILTER_KEY, s)
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.data[_FILTER_KEY]
        labels = node.labels
        if s.affinity_terms:
            pods_exist = True
            for term in s.affinity_terms:
                value = labels.get(term.topology_key)
                if value is None:
                    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_AFFINITY,))
                if s.affinity_counts.get((term.topology_key, value), 0) <= 0:
                    pods_exist = False
            if not pods_exist and not (not s.affinity_counts and s.self_match):
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON_AFFINITY,))
        if s.anti_affinity_counts:
            for term in s.anti_affinity_terms:
                value = labels.get(term.topology_key)
                if value is not None and s.anti_affinity_counts.get((term.topology_key, value), 0) > 0:
                    return Status(Code.UNSCHEDULABLE, (REASON_ANTI_AFFINITY,))
        existing = s.existing_anti_affinity_counts
        if existing:
            for pair in labels.items():
                if existing.get(pair, 0) > 0:
                    return Status(Code.UNSCHEDULABLE, (REASON_EXISTING_ANTI_AFFINITY,))
        return None

    # -- Score --------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if pod.parse_error:
            return Status.skip()
        has_constraints = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        if self.ignore_preferred_of_existing and not has_constraints:
            return Status.skip()
        snapshot = self.handle.snapshot
        if not has_constraints and not snapshot.have_pods_with_affinity:
            return Status.skip()
        ns_labels = self.handle.namespaces.labels(pod.namespace)
        preferred = [
            WeightedAffinityTerm(t, w.weight)
            for w, t in zip(
                pod.preferred_affinity_terms,
                self._resolve([w.term for w in pod.preferred_affinity_terms]),
                strict=True,
            )
        ]
        preferred_anti = [
            WeightedAffinityTerm(t, w.weight)
            for w, t in zip(
                pod.preferred_anti_affinity_terms,
                self._resolve([w.term for w in pod.preferred_anti_affinity_terms]),
                strict=True,
            )
        ]
        hard_weight = self.hard_pod_affinity_weight
        scores: dict[str, dict[str, int]] = {}

        def add(key: str, labels: Mapping[str, str], amount: int) -> None:
            value = labels.get(key)
            if value is not None:
                by_value = scores.setdefault(key, {})
                by_value[value] = by_value.get(value, 0) + amount

        # The incoming pod's preferred terms against the pods already placed (label index).
        for weighted, sign in ((preferred, 1), (preferred_anti, -1)):
            for w in weighted:
                for other, node in snapshot.matching_pods(w.term.selector):
                    if node.labels and w.term.matches(other, None):
                        add(w.term.topology_key, node.labels, sign * w.weight)
        # Placed pods' terms against the incoming pod, per distinct term (see pre_filter).
        by_name = snapshot.node_info_map
        for key in snapshot.terms_for(pod):
            kind, term, weight = key
            if kind == "hard":
                amount = hard_weight
            elif kind == "prefer":
                amount = weight
            elif kind == "avoid":
                amount = -weight
            else:
                continue
            if amount == 0 or not term.matches(pod, ns_labels):
                continue
            for node_name, count in snapshot.term_nodes[key].items():
                add(term.topology_key, by_name[node_name].labels, amount * count)
        if not scores:
            return Status.skip()
        state.write(_SCORE_KEY, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, dict[str, int]] = state.data[_SCORE_KEY]
        labels = node.labels
        total = 0
        for key, by_value in scores.items():
            value = labels.get(key)
            if value is not None:
                total += by_value.get(value, 0)
        return total

    def normalize_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> Status | None:
        if not scores:
            return None
        low, high = min(scores), max(scores)
        spread = high - low
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((s - low) / spread)) if spread > 0 else 0
        return None

    # -- queueing -----------------------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.ADD), _hint_pod_added),
            ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.DELETE), _hint_pod_deleted),
            ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)),
        ]


def _hint_pod_added(pending: PodInfo, old: Any, new: Any) -> bool:
    """An assigned pod appeared: it may satisfy the pending pod's required affinity."""
    if not isinstance(new, PodInfo):
        return True
    return any(term.matches(new, None) for term in pending.required_affinity_terms)


def _hint_pod_deleted(pending: PodInfo, old: Any, new: Any) -> bool:
    """An assigned pod went away: it may have been what the anti-affinity rules objected to."""
    gone = old if isinstance(old, PodInfo) else new
    if not isinstance(gone, PodInfo):
        return True
    if gone.required_anti_affinity_terms:
        return True
    return any(term.matches(gone, None) for term in pending.required_anti_affinity_terms)
