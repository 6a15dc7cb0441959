"""The scheduler's data model: statuses, pods and nodes as the plugins see them.

Plugins never read raw pod or node dicts in their hot path. Everything a filter
or score needs is computed **once** when an object enters the scheduler and kept
on two classes:

* :class:`PodInfo` — a pod with its resource requests already summed (including
  init containers and overhead, see :func:`compute_pod_requests`), its
  (anti-)affinity terms compiled into :class:`AffinityTerm` (label selectors
  parsed once), and its host ports. Upstream's ``framework.PodInfo``.
* :class:`NodeInfo` — a node with its allocatable resources as integers, its
  taints, and the *aggregate* of the pods placed on it: requested resources,
  the "non-zero" requests used for scoring, used host ports, which pods carry
  affinity terms. Adding or removing a pod updates the aggregates in O(1), so
  ``NodeResourcesFit`` compares a handful of integers instead of walking pods.
  Upstream's ``framework.NodeInfo``.

Units: CPU in millicores, memory and ephemeral storage in bytes, everything
else ("scalar" resources: extended resources like ``example.com/gpu``,
hugepages) in whole units — as upstream's ``framework.Resource``.

**Zero requests.** A container that requests no CPU (or memory) costs nothing
for *filtering* — it fits anywhere — but for *scoring* upstream pretends it
asked for 100m CPU and 200Mi memory (:data:`DEFAULT_MILLI_CPU_REQUEST`,
:data:`DEFAULT_MEMORY_REQUEST`); otherwise a thousand best-effort pods would all
look free and land on one node. :class:`PodInfo` keeps both numbers.

A :class:`Status` is what a plugin answers when it is not plain success
(success is ``None``, like upstream's nil ``*Status``): a :class:`Code` and
one or more human-readable reasons. The reasons are what ends up, counted per
node, in the ``FailedScheduling`` message (see :mod:`minik.scheduler.diagnosis`).
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from minik.api.quantity import QuantityError, milli_value, parse_quantity, value
from minik.api.selectors import LabelSelector, SelectorError
from minik.api.taints import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, Taint, taints_of
from minik.client.objects import Obj

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "MAX_NODE_SCORE",
    "ActionType",
    "AffinityTerm",
    "ClusterEvent",
    "Code",
    "CycleState",
    "FrameworkError",
    "NodeInfo",
    "PodInfo",
    "QueuedPodInfo",
    "Resource",
    "Status",
    "Taint",
    "WeightedAffinityTerm",
    "compute_pod_requests",
]

#: The highest score a Score plugin may give (after NormalizeScore).
MAX_NODE_SCORE: Final = 100
MIN_NODE_SCORE: Final = 0
#: Scoring-only stand-ins for a container that requests no CPU / memory.
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"


# --- statuses --------------------------------------------------------------------------------


class Code(enum.IntEnum):
    """Upstream's status codes (``framework.Code``), same meanings."""

    SUCCESS = 0
    #: An internal error: the pod is retried after backoff, no node is blamed.
    ERROR = 1
    #: The node does not fit now, but could (e.g. after preemption frees resources).
    UNSCHEDULABLE = 2
    #: The node can never fit this pod as it is (label mismatch, untolerated taint):
    #: preemption would not help.
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    #: From PreFilter/PreScore: "nothing to do for this pod" — the plugin's
    #: Filter/Score is not called in this cycle at all.
    SKIP = 5


@dataclass(slots=True)
class Status:
    """A non-success answer from a plugin; ``None`` means success everywhere."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    #: the exception behind an ERROR status, if any (e.g. the API error of a failed bind)
    cause: BaseException | None = None

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> Status:
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return cls(code, reasons)

    @classmethod
    def error(cls, message: str) -> Status:
        return cls(Code.ERROR, (message,))

    @classmethod
    def skip(cls) -> Status:
        return cls(Code.SKIP)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def __str__(self) -> str:
        who = f"{self.plugin}: " if self.plugin else ""
        return f"{who}{self.code.name}: {self.message}"


class FrameworkError(Exception):
    """A plugin failed with an internal error (code ERROR); the pod is retried after backoff."""

    def __init__(self, status: Status) -> None:
        super().__init__(str(status))
        self.status = status


class CycleState:
    """Per-cycle scratch space shared by a pod's plugins (upstream ``CycleState``).

    PreFilter/PreScore compute what Filter/Score need for *this* pod once and
    store it under a key of their own; Filter/Score read it for every node.
    ``skip_filter`` / ``skip_score`` hold the plugins that answered SKIP.
    """

    __slots__ = ("data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value

    def read(self, key: str) -> Any:
        """The value stored under ``key``; ``KeyError`` if PreFilter/PreScore did not run."""
        return self.data[key]


# --- cluster events (what can make an unschedulable pod schedulable) ----------------------------


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE = 4
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A kind of change in the cluster: ``(resource, action)``; resource ``"*"`` = any.

    Plugins declare which events could make a pod they rejected schedulable
    (``events_to_register``); the queue moves parked pods back only on those.
    """

    resource: str  # "Pod", "AssignedPod", "Node", "Namespace", "*"
    action: ActionType
    label: str = ""

    def matches(self, other: ClusterEvent) -> bool:
        """Whether this registered event covers the concrete event ``other``."""
        if self.resource not in ("*", other.resource):
            return False
        return bool(self.action & other.action)

    def __str__(self) -> str:
        return self.label or f"{self.resource}{self.action.name}"


# --- resources -------------------------------------------------------------------------------


@dataclass(slots=True)
class Resource:
    """Amounts of compute resources (upstream ``framework.Resource``)."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resource:
        """From a ``ResourceList`` (``{"cpu": "500m", "memory": "1Gi"}``); bad values count 0."""
        out = cls()
        if not resources:
            return out
        for name, raw in resources.items():
            out.add_named(name, raw)
        return out

    def add_named(self, name: str, raw: Any) -> None:
        try:
            amount = _amount(name, raw)
        except (QuantityError, TypeError, ValueError):
            return
        if name == CPU:
            self.milli_cpu += amount
        elif name == MEMORY:
            self.memory += amount
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage += amount
        elif name == PODS:
            self.allowed_pod_number += amount
        else:
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pod_number += other.allowed_pod_number
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def set_max(self, other: Resource) -> None:
        """Raise every amount to at least ``other``'s."""
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.allowed_pod_number = max(self.allowed_pod_number, other.allowed_pod_number)
        for name, amount in other.scalar.items():
            if amount > self.scalar.get(name, 0):
                self.scalar[name] = amount

    def copy(self) -> Resource:
        return Resource(
            self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number, dict(self.scalar)
        )

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    @property
    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))


def _amount(name: str, raw: Any) -> int:
    if name == CPU:
        return milli_value(parse_quantity(raw))
    return value(parse_quantity(raw))  # whole units, rounded up (1.5 bytes is 2 bytes)


def _requests_of(container: Obj) -> Resource:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return Resource()
    requests = resources.get("requests")
    return Resource.from_list(requests if isinstance(requests, dict) else None)


def compute_pod_requests(spec: Obj) -> tuple[Resource, int, int]:
    """A pod's effective requests: ``(requests, non_zero_milli_cpu, non_zero_memory)``.

    Upstream's ``resourcehelper.PodRequests``: the sum over app containers,
    raised to the largest single init container (init containers run one at a
    time, before the app containers), plus ``spec.overhead``. Restartable init
    containers (sidecars, ``restartPolicy: Always``) keep running, so they add
    to the sum and to every later init container's peak.

    The two non-zero numbers are the same computation with 100m / 200Mi stand
    in for any container that requests no CPU / memory (scoring only).
    """
    total = Resource()
    nz_cpu = 0
    nz_mem = 0
    for ctr in _list(spec, "containers"):
        req = _requests_of(ctr)
        total.add(req)
        nz_cpu += req.milli_cpu or DEFAULT_MILLI_CPU_REQUEST
        nz_mem += req.memory or DEFAULT_MEMORY_REQUEST
    init_peak = Resource()
    init_nz_cpu = 0
    init_nz_mem = 0
    sidecars = Resource()
    sidecar_nz_cpu = 0
    sidecar_nz_mem = 0
    for ctr in _list(spec, "initContainers"):
        req = _requests_of(ctr)
        cpu_nz = req.milli_cpu or DEFAULT_MILLI_CPU_REQUEST
        mem_nz = req.memory or DEFAULT_MEMORY_REQUEST
        if ctr.get("restartPolicy") == "Always":
            total.add(req)
            nz_cpu += cpu_nz
            nz_mem += mem_nz
            sidecars.add(req)
            sidecar_nz_cpu += cpu_nz
            sidecar_nz_mem += mem_nz
            peak = sidecars.copy()
            peak_cpu, peak_mem = sidecar_nz_cpu, sidecar_nz_mem
        else:
            peak = req.copy()
            peak.add(sidecars)
            peak_cpu, peak_mem = cpu_nz + sidecar_nz_cpu, mem_nz + sidecar_nz_mem
        init_peak.set_max(peak)
        init_nz_cpu = max(init_nz_cpu, peak_cpu)
        init_nz_mem = max(init_nz_mem, peak_mem)
    total.set_max(init_peak)
    nz_cpu = max(nz_cpu, init_nz_cpu)
    nz_mem = max(nz_mem, init_nz_mem)
    overhead = spec.get("overhead")
    if isinstance(overhead, dict) and overhead:
        extra = Resource.from_list(overhead)
        total.add(extra)
        nz_cpu += extra.milli_cpu
        nz_mem += extra.memory
    return total, nz_cpu, nz_mem


def _list(parent: Obj, key: str) -> list[Obj]:
    value = parent.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


# --- affinity terms --------------------------------------------------------------------------


class AffinityTerm:
    """A compiled ``PodAffinityTerm`` (upstream ``framework.AffinityTerm``).

    It matches a pod when the pod's namespace is in :attr:`namespaces` — or
    its namespace's labels match :attr:`namespace_selector` — and its labels
    match :attr:`selector`. Without ``namespaces`` and ``namespaceSelector``
    the term means "the pod's own namespace"; ``namespaceSelector: {}`` means
    every namespace.
    """

    __slots__ = ("__weakref__", "_hash", "namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(
        self,
        *,
        namespaces: frozenset[str],
        selector: LabelSelector,
        topology_key: str,
        namespace_selector: LabelSelector,
    ) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector
        # Terms compare by value, and from_dict hands out one shared object per distinct
        # term: plugins can then evaluate each distinct term once per cycle with an
        # identity-fast dict lookup.
        self._hash = hash((namespaces, selector, topology_key, namespace_selector))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AffinityTerm):
            return NotImplemented
        return (
            self._hash == other._hash
            and self.topology_key == other.topology_key
            and self.namespaces == other.namespaces
            and self.selector == other.selector
            and self.namespace_selector == other.namespace_selector
        )

    @classmethod
    def from_dict(cls, term: Obj, pod_namespace: str, pod_labels: Mapping[str, str]) -> AffinityTerm:
        """Compile a term; equal terms (the replicas of one workload) share one object."""
        selector = LabelSelector.from_dict(_selector_with_label_keys(term, pod_labels))
        raw_ns_selector = term.get("namespaceSelector")
        namespaces = frozenset(str(n) for n in term.get("namespaces") or ())
        ns_selector = LabelSelector.from_dict(raw_ns_selector) if raw_ns_selector is not None else None
        if not namespaces and ns_selector is None:
            namespaces = frozenset((pod_namespace,))
        compiled = cls(
            namespaces=namespaces,
            selector=selector,
            topology_key=str(term.get("topologyKey") or ""),
            namespace_selector=ns_selector if ns_selector is not None else LabelSelector.nothing(),
        )
        key = (compiled.namespaces, compiled.selector, compiled.topology_key, compiled.namespace_selector)
        shared = _INTERNED.get(key)
        if shared is None:
            _INTERNED[key] = shared = compiled
        return shared

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> bool:
        """Whether ``pod`` (in a namespace labelled ``namespace_labels``) matches."""
        if pod.namespace in self.namespaces or (
            not self.namespace_selector.matches_nothing
            and self.namespace_selector.matches(namespace_labels or {})
        ):
            return self.selector.matches(pod.labels)
        return False

    def with_namespaces(self, namespaces: Iterable[str]) -> AffinityTerm:
        """A copy whose namespace selector is resolved into plain namespaces."""
        return AffinityTerm(
            namespaces=self.namespaces | frozenset(namespaces),
            selector=self.selector,
            topology_key=self.topology_key,
            namespace_selector=LabelSelector.nothing(),
        )

    def __repr__(self) -> str:
        return f"AffinityTerm({sorted(self.namespaces)}, {self.selector}, {self.topology_key!r})"


#: Distinct compiled terms, alive as long as some PodInfo uses them.
_INTERNED: weakref.WeakValueDictionary[tuple[Any, ...], AffinityTerm] = weakref.WeakValueDictionary()


def _selector_with_label_keys(term: Obj, pod_labels: Mapping[str, str]) -> Obj | None:
    """``labelSelector`` plus ``matchLabelKeys``/``mismatchLabelKeys`` resolved against the pod."""
    selector = term.get("labelSelector")
    match_keys = term.get("matchLabelKeys") or ()
    mismatch_keys = term.get("mismatchLabelKeys") or ()
    if not match_keys and not mismatch_keys:
        return selector if isinstance(selector, dict) or selector is None else None
    base: Obj = dict(selector) if isinstance(selector, dict) else {}
    expressions = list(base.get("matchExpressions") or [])
    for key in match_keys:
        if key in pod_labels:
            expressions.append({"key": key, "operator": "In", "values": [pod_labels[key]]})
    for key in mismatch_keys:
        if key in pod_labels:
            expressions.append({"key": key, "operator": "NotIn", "values": [pod_labels[key]]})
    base["matchExpressions"] = expressions
    return base


@dataclass(slots=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


# --- pods ------------------------------------------------------------------------------------


class PodInfo:
    """A pod plus everything the plugins precompute from it (see the module docs).

    Build one with :meth:`PodInfo.from_pod`; it never changes afterwards. The
    underlying ``pod`` dict is shared with the informer cache: never mutate it.
    """

    __slots__ = (
        "host_ports",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "non_zero_cpu",
        "non_zero_mem",
        "parse_error",
        "pod",
        "preferred_affinity_terms",
        "preferred_anti_affinity_terms",
        "priority",
        "requests",
        "required_affinity_terms",
        "required_anti_affinity_terms",
        "scheduler_name",
        "scoring_affinity",
        "spec",
        "terminating",
        "uid",
    )

    pod: Obj
    spec: Obj
    key: str
    uid: str
    namespace: str
    name: str
    labels: dict[str, str]
    priority: int
    scheduler_name: str
    node_name: str
    requests: Resource
    non_zero_cpu: int
    non_zero_mem: int
    required_affinity_terms: list[AffinityTerm]
    required_anti_affinity_terms: list[AffinityTerm]
    preferred_affinity_terms: list[WeightedAffinityTerm]
    preferred_anti_affinity_terms: list[WeightedAffinityTerm]
    host_ports: list[tuple[str, str, int]]
    scoring_affinity: bool
    terminating: bool
    parse_error: str | None

    @classmethod
    def from_pod(cls, pod: Obj) -> PodInfo:
        self = cls.__new__(cls)
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.spec = spec
        self.namespace = str(meta.get("namespace") or "")
        self.name = str(meta.get("name") or "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid = str(meta.get("uid") or self.key)
        self.labels = meta.get("labels") or {}
        priority = spec.get("priority")
        self.priority = priority if isinstance(priority, int) else 0
        self.scheduler_name = str(spec.get("schedulerName") or "default-scheduler")
        self.node_name = str(spec.get("nodeName") or "")
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.requests, self.non_zero_cpu, self.non_zero_mem = compute_pod_requests(spec)
        self.parse_error = None
        self.required_affinity_terms = []
        self.required_anti_affinity_terms = []
        self.preferred_affinity_terms = []
        self.preferred_anti_affinity_terms = []
        affinity = spec.get("affinity")
        if isinstance(affinity, dict):
            try:
                self._compile_affinity(affinity)
            except (SelectorError, TypeError, ValueError, AttributeError) as exc:
                self.parse_error = f"parsing pod: {exc}"
        # Terms through which this pod, once placed, affects *other* pods' scores.
        self.scoring_affinity = bool(
            self.required_affinity_terms
            or self.preferred_affinity_terms
            or self.preferred_anti_affinity_terms
        )
        self.host_ports = _host_ports(spec)
        return self

    def _compile_affinity(self, affinity: Obj) -> None:
        ns, labels = self.namespace, self.labels
        for key, required, preferred in (
            ("podAffinity", self.required_affinity_terms, self.preferred_affinity_terms),
            ("podAntiAffinity", self.required_anti_affinity_terms, self.preferred_anti_affinity_terms),
        ):
            section = affinity.get(key)
            if not isinstance(section, dict):
                continue
            for term in section.get("requiredDuringSchedulingIgnoredDuringExecution") or ():
                required.append(AffinityTerm.from_dict(term, ns, labels))
            for weighted in section.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
                term = AffinityTerm.from_dict(weighted.get("podAffinityTerm") or {}, ns, labels)
                preferred.append(WeightedAffinityTerm(term, int(weighted.get("weight") or 0)))

    @property
    def has_affinity(self) -> bool:
        """Whether the pod carries any pod (anti-)affinity term at all."""
        return bool(
            self.required_affinity_terms
            or self.required_anti_affinity_terms
            or self.preferred_affinity_terms
            or self.preferred_anti_affinity_terms
        )

    def assumed_on(self, node_name: str) -> PodInfo:
        """A copy bound to ``node_name`` (a shallow copy of the pod with ``spec.nodeName`` set)."""
        clone = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(clone, slot, getattr(self, slot))
        spec = {**self.spec, "nodeName": node_name}
        clone.pod = {**self.pod, "spec": spec}
        clone.spec = spec
        clone.node_name = node_name
        return clone

    def __repr__(self) -> str:
        return f"<PodInfo {self.key}{' on ' + self.node_name if self.node_name else ''}>"


def _host_ports(spec: Obj) -> list[tuple[str, str, int]]:
    ports: list[tuple[str, str, int]] = []
    for ctr in _list(spec, "containers"):
        for port in _list(ctr, "ports"):
            host_port = port.get("hostPort")
            if isinstance(host_port, int) and host_port > 0:
                ports.append(
                    (str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"), host_port)
                )
    return ports


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    """A pod in (or popped from) the scheduling queue, with its scheduling history.

    It lives here, beside :class:`PodInfo`, because both the queue and the QueueSort
    plugin interface speak of it; upstream's ``framework.QueuedPodInfo``."""

    pod: PodInfo
    #: when the pod was last added to a queue (monotonic): arrival order and backoff start
    timestamp: float
    #: when the first attempt started (for the end-to-end latency metric)
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    #: plugins that rejected the pod in its last cycle (empty after an error)
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.pod.key


# --- nodes -----------------------------------------------------------------------------------


class NodeInfo:
    """A node and the aggregate of the pods placed on it (see the module docs).

    ``node`` is ``None`` for a node the cache has only heard of through pods
    bound to it (the Node object itself not seen yet, or already deleted):
    such entries keep the accounting but are never offered to plugins.
    """

    __slots__ = (
        "alloc_cpu",
        "alloc_eph",
        "alloc_mem",
        "alloc_pods",
        "alloc_scalar",
        "generation",
        "hard_taints",
        "image_sizes",
        "labels",
        "name",
        "node",
        "nz_cpu",
        "nz_mem",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "prefer_taints",
        "req_cpu",
        "req_eph",
        "req_mem",
        "req_scalar",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, name: str, node: Obj | None = None) -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.hard_taints: tuple[Taint, ...] = ()
        self.prefer_taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.alloc_cpu = 0
        self.alloc_mem = 0
        self.alloc_eph = 0
        self.alloc_pods = 0
        self.alloc_scalar: dict[str, int] = {}
        self.image_sizes: dict[str, int] = {}
        self.req_cpu = 0
        self.req_mem = 0
        self.req_eph = 0
        self.req_scalar: dict[str, int] = {}
        self.nz_cpu = 0
        self.nz_mem = 0
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports: dict[str, set[tuple[str, int]]] = {}
        self.generation = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        """Take the node's labels, taints, allocatable and images."""
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.labels = meta.get("labels") or {}
        self.unschedulable = bool(spec.get("unschedulable"))
        self.taints = taints_of(spec)
        self.hard_taints = tuple(t for t in self.taints if t.effect in (NO_SCHEDULE, NO_EXECUTE))
        self.prefer_taints = tuple(t for t in self.taints if t.effect == PREFER_NO_SCHEDULE)
        alloc = Resource.from_list(status.get("allocatable") or status.get("capacity"))
        self.alloc_cpu = alloc.milli_cpu
        self.alloc_mem = alloc.memory
        self.alloc_eph = alloc.ephemeral_storage
        self.alloc_pods = alloc.allowed_pod_number
        self.alloc_scalar = alloc.scalar
        sizes: dict[str, int] = {}
        for image in status.get("images") or ():
            if not isinstance(image, dict):
                continue
            size = image.get("sizeBytes")
            for name in image.get("names") or ():
                sizes[str(name)] = size if isinstance(size, int) else 0
        self.image_sizes = sizes

    def remove_node(self) -> None:
        self.node = None

    # -- pods ---------------------------------------------------------------------------------

    def add_pod(self, pod: PodInfo) -> None:
        req = pod.requests
        self.req_cpu += req.milli_cpu
        self.req_mem += req.memory
        self.req_eph += req.ephemeral_storage
        if req.scalar:
            self.req_scalar = dict(self.req_scalar)
            for name, amount in req.scalar.items():
                self.req_scalar[name] = self.req_scalar.get(name, 0) + amount
        self.nz_cpu += pod.non_zero_cpu
        self.nz_mem += pod.non_zero_mem
        self.pods.append(pod)
        if pod.has_affinity:
            self.pods_with_affinity.append(pod)
        if pod.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pod)
        for ip, protocol, port in pod.host_ports:
            self.used_ports.setdefault(ip, set()).add((protocol, port))

    def remove_pod(self, uid: str) -> PodInfo | None:
        """Take the pod with ``uid`` off the node; return it (``None`` if absent)."""
        for index, pod in enumerate(self.pods):  # noqa: B007 - index is used after the loop
            if pod.uid == uid:
                break
        else:
            return None
        del self.pods[index]
        req = pod.requests
        self.req_cpu -= req.milli_cpu
        self.req_mem -= req.memory
        self.req_eph -= req.ephemeral_storage
        if req.scalar:
            self.req_scalar = dict(self.req_scalar)
            for name, amount in req.scalar.items():
                self.req_scalar[name] = self.req_scalar.get(name, 0) - amount
        self.nz_cpu -= pod.non_zero_cpu
        self.nz_mem -= pod.non_zero_mem
        if pod.has_affinity:
            self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != uid]
        if pod.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity = [
                p for p in self.pods_with_required_anti_affinity if p.uid != uid
            ]
        for ip, protocol, port in pod.host_ports:
            used = self.used_ports.get(ip)
            if used is not None:
                used.discard((protocol, port))
                if not used:
                    del self.used_ports[ip]
        return pod

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """Upstream ``HostPortInfo.CheckConflict``: 0.0.0.0 conflicts with every IP."""
        if port <= 0 or not self.used_ports:
            return False
        wanted = (protocol, port)
        if ip == "0.0.0.0":
            return any(wanted in used for used in self.used_ports.values())
        for key in ("0.0.0.0", ip):
            used = self.used_ports.get(key)
            if used is not None and wanted in used:
                return True
        return False

    # -- copies -------------------------------------------------------------------------------

    def copy_from(self, other: NodeInfo) -> None:
        """Make this object an independent snapshot of ``other`` (keeps identity)."""
        for slot in NodeInfo.__slots__:
            setattr(self, slot, getattr(other, slot))
        self.pods = list(other.pods)
        self.pods_with_affinity = list(other.pods_with_affinity)
        self.pods_with_required_anti_affinity = list(other.pods_with_required_anti_affinity)
        self.used_ports = {ip: set(used) for ip, used in other.used_ports.items()}

    def snapshot(self) -> NodeInfo:
        clone = NodeInfo.__new__(NodeInfo)
        clone.copy_from(self)
        return clone

    def requested(self) -> Resource:
        return Resource(self.req_cpu, self.req_mem, self.req_eph, len(self.pods), dict(self.req_scalar))

    def allocatable(self) -> Resource:
        return Resource(
            self.alloc_cpu, self.alloc_mem, self.alloc_eph, self.alloc_pods, dict(self.alloc_scalar)
        )

    def __repr__(self) -> str:
        return f"<NodeInfo {self.name} pods={len(self.pods)} cpu={self.req_cpu}/{self.alloc_cpu}m>"


def iter_pods(nodes: Iterable[NodeInfo]) -> Iterator[tuple[NodeInfo, PodInfo]]:
    for node in nodes:
        for pod in node.pods:
            yield node, pod
