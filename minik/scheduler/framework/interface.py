"""The extension points: what a scheduler plugin can implement.

A plugin is a class with a ``name`` that inherits from one or more of the
classes below; the framework (:mod:`minik.scheduler.framework.runtime`) finds
which extension points it serves by ``isinstance`` and calls it there. One
instance per profile serves all its extension points, so state computed in
PreFilter is naturally at hand in Filter (through the :class:`CycleState`).

The scheduling cycle calls them in this order (upstream's names and
semantics)::

    QueueSort    order of the active queue                  (sort_key)
    PreFilter    once per pod: precompute, may reject or narrow the node set
    Filter       per node: can the pod run here?             -> None | Status
    PostFilter   only if no node passed (preemption's hook; none by default)
    PreScore     once per pod, over the feasible nodes
    Score        per feasible node: 0..100 after NormalizeScore, then x weight
    Reserve      the node is chosen: claim plugin-level state (Unreserve undoes)
    Bind         (asynchronous, binding cycle) make it so through the API

Conventions that keep the hot path fast, because Filter and Score run for
hundreds of nodes per pod:

* success is ``None``; build a :class:`Status` only to reject;
* do per-pod work in PreFilter/PreScore and store it in the cycle state;
  answer :meth:`Status.skip` there when the plugin has nothing to do for this
  pod (no affinity, no host ports...) — the framework then doesn't call its
  Filter/Score at all;
* Score plugins may override :meth:`ScorePlugin.score_nodes` to score a whole
  list at once (a list comprehension is several times faster than a method call
  per node); the default just calls :meth:`ScorePlugin.score`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from minik.client.objects import Obj
from minik.scheduler.framework.nominator import Nominator
from minik.scheduler.framework.types import (
    ClusterEvent,
    Code,
    CycleState,
    FrameworkError,
    NodeInfo,
    PodInfo,
    QueuedPodInfo,
    Status,
)

if TYPE_CHECKING:
    from minik.scheduler.cache import Snapshot


# --- what plugins get from the framework ------------------------------------------------------


class NamespaceLister(Protocol):
    """Namespace labels, for affinity terms with a ``namespaceSelector``."""

    def labels(self, name: str) -> Mapping[str, str] | None:
        """The labels of namespace ``name`` (``None`` if unknown)."""
        ...

    def names(self) -> Sequence[tuple[str, Mapping[str, str]]]:
        """Every known namespace with its labels."""
        ...


class BudgetLister(Protocol):
    """PodDisruptionBudgets, for preemption to prefer victims whose budgets allow it."""

    def budgets(self, namespace: str) -> Sequence[Obj]:
        """The budgets of one namespace (shared objects: do not mutate)."""
        ...


class BindingClient(Protocol):
    """What the default binder needs (:class:`~minik.client.rest.APIClient` has it)."""

    async def create_binding(self, pod: Obj, node: str) -> Obj: ...


class _NoBudgets:
    def budgets(self, namespace: str) -> Sequence[Obj]:
        return ()


class _NoNamespaces:
    def labels(self, name: str) -> Mapping[str, str] | None:
        return None

    def names(self) -> Sequence[tuple[str, Mapping[str, str]]]:
        return ()


@dataclass
class Handle:
    """The framework's services for plugins (upstream ``framework.Handle``).

    ``snapshot`` is the cluster as of the start of the current cycle; it is
    updated in place, so plugins may keep the handle and read
    ``handle.snapshot`` whenever they run.
    """

    snapshot: Snapshot
    client: BindingClient | None = None
    namespaces: NamespaceLister = field(default_factory=_NoNamespaces)
    #: pods nominated to nodes by preemption, whose room is held for them
    nominator: Nominator = field(default_factory=Nominator)
    budgets: BudgetLister = field(default_factory=_NoBudgets)


#: Runs one profile's filters on one node: None if the pod fits there.
FilterRunner = Callable[[CycleState, PodInfo, NodeInfo], "Status | None"]
#: Where the framework puts its :data:`FilterRunner` for PostFilter plugins: preemption
#: asks "would the pod fit if these pods were gone?" with exactly the profile's filters
#: (upstream's plugins reach them through the framework handle).
FILTER_RUNNER_KEY = "framework/run_filter"


@dataclass(slots=True)
class PreFilterResult:
    """PreFilter's narrowing: only these nodes can possibly fit (``None`` = all)."""

    node_names: set[str] | None = None
    #: the plugins that narrowed the set (filled in by the framework)
    plugins: tuple[str, ...] = ()

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return PreFilterResult(set(other.node_names), self.plugins + other.plugins)
        return PreFilterResult(self.node_names & other.node_names, self.plugins + other.plugins)


#: A queueing hint: given the parked pod and the object that changed (old, new),
#: could the change make the pod schedulable? ``None`` as hint means "always".
QueueingHint = Callable[[PodInfo, Any, Any], bool]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHint | None = None


# --- the extension points ---------------------------------------------------------------------


class Plugin:
    """Base of every plugin. ``args`` come from the profile's ``pluginConfig``
    merged over :attr:`default_args`."""

    name: ClassVar[str] = ""
    default_args: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.args = args
        self.handle = handle

    def __repr__(self) -> str:
        return f"<plugin {self.name}>"


class QueueSortPlugin(Plugin):
    """Orders the active queue: the pod with the smallest key is popped first."""

    def sort_key(self, pod: QueuedPodInfo) -> Any:
        raise NotImplementedError


class PreFilterPlugin(Plugin):
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Once per cycle. Return a :class:`PreFilterResult` to narrow the nodes
        evaluated, a rejecting Status to fail the pod at once, or SKIP."""
        raise NotImplementedError


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Per node: ``None`` if the pod can run there, else why not."""
        raise NotImplementedError

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        """The nodes that pass, in order; record each rejection in ``statuses``.

        Override for speed (same verdicts as :meth:`filter`); the default calls
        :meth:`filter` per node. Use :meth:`reject_rest` to fill in statuses
        after a fast comprehension found the passing nodes.
        """
        check, name = self.filter, self.name
        out: list[NodeInfo] = []
        for node in nodes:
            status = check(state, pod, node)
            if status is None:
                out.append(node)
                continue
            status.plugin = name
            if status.code == Code.ERROR:
                raise FrameworkError(status)
            statuses[node.name] = status
        return out

    def reject_rest(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: list[NodeInfo],
        passed: list[NodeInfo],
        statuses: dict[str, Status],
    ) -> list[NodeInfo]:
        """``passed`` came from a fast path: run :meth:`filter_nodes` on the others
        for their statuses, and merge, keeping the order of ``nodes``."""
        if len(passed) == len(nodes):
            return passed
        check, name = self.filter, self.name
        out: list[NodeInfo] = []
        append = out.append
        i, n_passed = 0, len(passed)
        for node in nodes:  # ``passed`` is an ordered subsequence of ``nodes``
            if i < n_passed and passed[i] is node:
                append(node)
                i += 1
                continue
            status = check(state, pod, node)
            if status is None:
                append(node)
                continue
            status.plugin = name
            if status.code == Code.ERROR:
                raise FrameworkError(status)
            statuses[node.name] = status
        return out


class PostFilterPlugin(Plugin):
    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status | None]:
        """Called when no node passed Filter; may return a nominated node name
        (preemption). The Status's message is appended to the failure message."""
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        raise NotImplementedError


class ScorePlugin(Plugin):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        raise NotImplementedError

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """Scores for a list of nodes (override for speed; same results as :meth:`score`)."""
        score = self.score
        return [score(state, pod, node) for node in nodes]

    def normalize_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> Status | None:
        """Rescale ``scores`` in place into 0..100 (upstream ``ScoreExtensions``)."""
        return None


class ReservePlugin(Plugin):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        raise NotImplementedError


class BindPlugin(Plugin):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind the pod; SKIP passes the pod to the next bind plugin."""
        raise NotImplementedError


class EnqueueExtensions:
    """Mixin: the cluster events after which a pod this plugin rejected may fit."""

    def events_to_register(self) -> list[ClusterEventWithHint]:
        raise NotImplementedError


def default_normalize_score(scores: list[int], *, reverse: bool, max_priority: int = 100) -> None:
    """Upstream ``helper.DefaultNormalizeScore``: scale so the best is ``max_priority``.

    With ``reverse`` the scale is flipped (the *lowest* raw score becomes the
    best), as for counts of things the pod would rather avoid.
    """
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    if reverse:
        scores[:] = [max_priority - max_priority * s // highest for s in scores]
    else:
        scores[:] = [max_priority * s // highest for s in scores]
