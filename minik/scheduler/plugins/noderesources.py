"""NodeResourcesFit and NodeResourcesBalancedAllocation: CPU, memory and friends.

**Filter (NodeResourcesFit).** A pod fits when, for every resource it
requests, ``request <= allocatable - already requested on the node`` — the
pod's request being the sum of its containers, raised to its largest init
container, plus overhead (:func:`~minik.scheduler.framework.types.compute_pod_requests`),
and "already requested" including assumed pods. The node's ``pods``
allocatable caps the pod count. Every shortfall is a reason of its own —
``Insufficient cpu``, ``Insufficient memory``, ``Insufficient
ephemeral-storage``, ``Insufficient example.com/gpu``, ``Too many pods`` —
and each is counted separately in the failure summary. A pod that requests
nothing passes on resources (only the pod count can stop it). Args
``ignoredResources`` / ``ignoredResourceGroups`` exempt extended resources
(``example.com/foo`` / everything in ``example.com``) from the check.

**Score (NodeResourcesFit).** ``scoringStrategy.type``:

* ``LeastAllocated`` (default) — ``(allocatable - requested) * 100 /
  allocatable`` per resource: spread pods over empty nodes;
* ``MostAllocated`` — ``requested * 100 / allocatable``: pack nodes tight
  (bin-packing, to let the others be scaled away);
* ``RequestedToCapacityRatio`` — a piecewise-linear ``shape`` of
  ``{utilization, score}`` points (score 0..10, scaled to 0..100);

averaged over ``scoringStrategy.resources`` (default ``cpu`` and ``memory``,
weight 1 each) by weight. "Requested" here uses the *non-zero* requests: a
container without a CPU/memory request counts as 100m / 200Mi, so best-effort
pods still spread.

**Score (BalancedAllocation).** Prefers nodes whose resources are used in
equal proportion — ``(1 - stddev(requested/allocatable per resource)) *
100`` with the pod added, using the *actual* requests. Best-effort pods
(requesting none of the resources) are skipped, as upstream does since 1.32,
so they don't all pile onto one node.

Integer arithmetic follows upstream's int64 truncation exactly so that ties
break the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from minik.scheduler.framework.interface import (
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    PreScorePlugin,
    ScorePlugin,
)
from minik.scheduler.framework.types import (
    CPU,
    EPHEMERAL_STORAGE,
    MAX_NODE_SCORE,
    MEMORY,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
TOO_MANY_PODS = "Too many pods"
_DEFAULT_RESOURCES = ({"name": CPU, "weight": 1}, {"name": MEMORY, "weight": 1})
_MAX_UTILIZATION = 100
_MAX_CUSTOM_PRIORITY_SCORE = 10

#: (requested, allocatable) -> 0..100 for one resource
ResourceScorer = Callable[[int, int], int]


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    # Pods without requests get the non-zero defaults, which may exceed capacity.
    requested = min(requested, capacity)
    return requested * MAX_NODE_SCORE // capacity


def broken_linear(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """Upstream ``helper.BuildBrokenLinearFunction`` over ``(utilization, score)`` points."""

    def f(p: int) -> int:
        for i, (utilization, score) in enumerate(shape):
            if p <= utilization:
                if i == 0:
                    return score
                prev_u, prev_s = shape[i - 1]
                return prev_s + _div((score - prev_s) * (p - prev_u), utilization - prev_u)
        return shape[-1][1]

    return f


def _div(a: int, b: int) -> int:
    """Go's integer division: truncate toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _resource_specs(raw: Any, where: str) -> list[tuple[str, int]]:
    if raw is None:
        raw = list(_DEFAULT_RESOURCES)
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}.resources must be a non-empty list of {{name, weight}}")
    out: list[tuple[str, int]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{where}.resources[{i}] needs a name")
        weight = item.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            raise ValueError(f"{where}.resources[{i}].weight must be between 1 and 100")
        out.append((item["name"], weight))
    return out


class _ResourceAllocationScorer:
    """Upstream ``resourceAllocationScorer``: gathers (requested, allocatable) per resource."""

    def __init__(self, resources: list[tuple[str, int]], *, use_requested: bool) -> None:
        self.resources = resources
        self.use_requested = use_requested
        self.default_pair = [name for name, _ in resources] == [CPU, MEMORY]

    def pod_requests(self, pod: PodInfo) -> list[int]:
        out: list[int] = []
        for name, _ in self.resources:
            if name == CPU:
                out.append(pod.requests.milli_cpu if self.use_requested else pod.non_zero_cpu)
            elif name == MEMORY:
                out.append(pod.requests.memory if self.use_requested else pod.non_zero_mem)
            else:
                out.append(pod.requests.get(name))
        return out

    def node_amounts(self, node: NodeInfo, pod_requests: list[int]) -> tuple[list[int], list[int]]:
        requested: list[int] = []
        allocatable: list[int] = []
        for (name, _), pod_request in zip(self.resources, pod_requests, strict=True):
            if name == CPU:
                alloc = node.alloc_cpu
                req = (node.req_cpu if self.use_requested else node.nz_cpu) + pod_request
            elif name == MEMORY:
                alloc = node.alloc_mem
                req = (node.req_mem if self.use_requested else node.nz_mem) + pod_request
            elif name == EPHEMERAL_STORAGE:
                alloc = node.alloc_eph
                req = node.req_eph + pod_request
            elif pod_request == 0:
                # An extended resource the pod does not ask for: left out of scoring.
                alloc, req = 0, 0
            elif name in node.alloc_scalar:
                alloc = node.alloc_scalar[name]
                req = node.req_scalar.get(name, 0) + pod_request
            else:
                alloc, req = 0, 0
            requested.append(req if alloc else 0)
            allocatable.append(alloc)
        return requested, allocatable


class NodeResourcesFit(FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = "NodeResourcesFit"
    default_args: ClassVar[Mapping[str, Any]] = {
        "ignoredResources": [],
        "ignoredResourceGroups": [],
        "scoringStrategy": {"type": LEAST_ALLOCATED, "resources": list(_DEFAULT_RESOURCES)},
    }

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        super().__init__(args, handle)
        self.ignored = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        strategy = args.get("scoringStrategy") or {}
        if not isinstance(strategy, dict):
            raise ValueError("scoringStrategy must be an object")
        self.strategy = str(strategy.get("type") or LEAST_ALLOCATED)
        resources = _resource_specs(strategy.get("resources"), "scoringStrategy")
        self.scorer = _ResourceAllocationScorer(resources, use_requested=False)
        if self.strategy == LEAST_ALLOCATED:
            self.per_resource: ResourceScorer = least_requested_score
        elif self.strategy == MOST_ALLOCATED:
            self.per_resource = most_requested_score
        elif self.strategy == REQUESTED_TO_CAPACITY_RATIO:
            ratio = strategy.get("requestedToCapacityRatio") or {}
            shape = sorted(
                (int(p["utilization"]), int(p["score"]) * (MAX_NODE_SCORE // _MAX_CUSTOM_PRIORITY_SCORE))
                for p in ratio.get("shape") or ()
            )
            if not shape:
                raise ValueError("scoringStrategy.requestedToCapacityRatio.shape needs at least one point")
            raw = broken_linear(shape)

            def rtcr(requested: int, capacity: int) -> int:
                if capacity == 0 or requested > capacity:
                    return raw(_MAX_UTILIZATION)
                return raw(requested * _MAX_UTILIZATION // capacity)

            self.per_resource = rtcr
        else:
            raise ValueError(
                f"scoringStrategy.type {self.strategy!r} is not one of "
                f"{LEAST_ALLOCATED}, {MOST_ALLOCATED}, {REQUESTED_TO_CAPACITY_RATIO}"
            )

    # -- Filter -------------------------------------------------------------------------------

    def _ignored(self, name: str) -> bool:
        return name in self.ignored or (
            bool(self.ignored_groups) and "/" in name and name.split("/", 1)[0] in self.ignored_groups
        )

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        r = pod.requests
        cpu, mem, eph = r.milli_cpu, r.memory, r.ephemeral_storage
        if (
            len(node.pods) < node.alloc_pods
            and (cpu == 0 or cpu <= node.alloc_cpu - node.req_cpu)
            and (mem == 0 or mem <= node.alloc_mem - node.req_mem)
            and (eph == 0 or eph <= node.alloc_eph - node.req_eph)
            and not r.scalar
        ):
            return None
        reasons = self.insufficient(pod, node)
        if not reasons:
            return None
        return Status(Code.UNSCHEDULABLE, tuple(reasons))

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        r = pod.requests
        if r.scalar:
            return super().filter_nodes(state, pod, nodes, statuses)
        cpu, mem, eph = r.milli_cpu, r.memory, r.ephemeral_storage
        passed = [
            n
            for n in nodes
            if len(n.pods) < n.alloc_pods
            and (cpu == 0 or cpu <= n.alloc_cpu - n.req_cpu)
            and (mem == 0 or mem <= n.alloc_mem - n.req_mem)
            and (eph == 0 or eph <= n.alloc_eph - n.req_eph)
        ]
        return self.reject_rest(state, pod, nodes, passed, statuses)

    def insufficient(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        """Every reason the pod does not fit on the node (upstream ``fitsRequest``)."""
        reasons: list[str] = []
        if len(node.pods) + 1 > node.alloc_pods:
            reasons.append(TOO_MANY_PODS)
        r = pod.requests
        if r.is_zero:
            return reasons
        if r.milli_cpu > 0 and r.milli_cpu > node.alloc_cpu - node.req_cpu:
            reasons.append(f"Insufficient {CPU}")
        if r.memory > 0 and r.memory > node.alloc_mem - node.req_mem:
            reasons.append(f"Insufficient {MEMORY}")
        if r.ephemeral_storage > 0 and r.ephemeral_storage > node.alloc_eph - node.req_eph:
            reasons.append(f"Insufficient {EPHEMERAL_STORAGE}")
        for name in sorted(r.scalar):
            amount = r.scalar[name]
            if amount == 0 or self._ignored(name):
                continue
            if amount > node.alloc_scalar.get(name, 0) - node.req_scalar.get(name, 0):
                reasons.append(f"Insufficient {name}")
        return reasons

    # -- Score --------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        state.write("PreScoreNodeResourcesFit", self.scorer.pod_requests(pod))
        return None

    def _requests(self, state: CycleState, pod: PodInfo) -> list[int]:
        try:
            requests: list[int] = state.data["PreScoreNodeResourcesFit"]
        except KeyError:
            requests = self.scorer.pod_requests(pod)
        return requests

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requested, allocatable = self.scorer.node_amounts(node, self._requests(state, pod))
        return self._combine(requested, allocatable)

    def _combine(self, requested: list[int], allocatable: list[int]) -> int:
        total = weight_sum = 0
        rtcr = self.strategy == REQUESTED_TO_CAPACITY_RATIO
        for (_, weight), req, alloc in zip(self.scorer.resources, requested, allocatable, strict=True):
            if alloc == 0:
                continue
            s = self.per_resource(req, alloc)
            if rtcr and s <= 0:
                continue
            total += s * weight
            weight_sum += weight
        if weight_sum == 0:
            return 0
        if rtcr:
            return math.floor(total / weight_sum + 0.5)
        return total // weight_sum

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        requests = self._requests(state, pod)
        if self.scorer.default_pair and self.strategy == LEAST_ALLOCATED:
            (_, w_cpu), (_, w_mem) = self.scorer.resources
            pod_cpu, pod_mem = requests
            out: list[int] = []
            append = out.append
            for n in nodes:
                ac, am = n.alloc_cpu, n.alloc_mem
                total = ws = 0
                if ac:
                    rc = n.nz_cpu + pod_cpu
                    total += ((ac - rc) * 100 // ac if rc <= ac else 0) * w_cpu
                    ws += w_cpu
                if am:
                    rm = n.nz_mem + pod_mem
                    total += ((am - rm) * 100 // am if rm <= am else 0) * w_mem
                    ws += w_mem
                append(total // ws if ws else 0)
            return out
        amounts = self.scorer.node_amounts
        combine = self._combine
        return [combine(*amounts(n, requests)) for n in nodes]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)),
        ]


def balanced_resource_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    """Upstream ``balancedResourceScorer``: ``(1 - stddev of usage fractions) * 100``."""
    fractions = [min(req / alloc, 1.0) for req, alloc in zip(requested, allocatable, strict=True) if alloc]
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class NodeResourcesBalancedAllocation(PreScorePlugin, ScorePlugin):
    name = "NodeResourcesBalancedAllocation"
    default_args: ClassVar[Mapping[str, Any]] = {"resources": list(_DEFAULT_RESOURCES)}
    _KEY = "PreScoreNodeResourcesBalancedAllocation"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        super().__init__(args, handle)
        self.scorer = _ResourceAllocationScorer(
            _resource_specs(args.get("resources"), "args"), use_requested=True
        )

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        requests = self.scorer.pod_requests(pod)
        if not any(requests):
            return Status.skip()  # best-effort pod: see the module docs
        state.write(self._KEY, requests)
        return None

    def _requests(self, state: CycleState, pod: PodInfo) -> list[int]:
        try:
            requests: list[int] = state.data[self._KEY]
        except KeyError:
            requests = self.scorer.pod_requests(pod)
        return requests

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requests = self._requests(state, pod)
        if not any(requests):
            return 0
        return balanced_resource_score(*self.scorer.node_amounts(node, requests))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        requests = self._requests(state, pod)
        if not self.scorer.default_pair:
            return super().score_nodes(state, pod, nodes)
        pod_cpu, pod_mem = requests
        out: list[int] = []
        append = out.append
        for n in nodes:
            ac, am = n.alloc_cpu, n.alloc_mem
            if ac and am:
                fc = (n.req_cpu + pod_cpu) / ac
                fm = (n.req_mem + pod_mem) / am
                if fc > 1.0:
                    fc = 1.0
                if fm > 1.0:
                    fm = 1.0
                append(int((1 - abs((fc - fm) / 2)) * MAX_NODE_SCORE))
            else:
                append(MAX_NODE_SCORE)  # one fraction or none: stddev 0
        return out
