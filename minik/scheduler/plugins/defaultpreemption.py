"""DefaultPreemption: when a pod fits nowhere, make room by evicting lower-priority pods.

A PostFilter plugin, so it runs only after every node failed Filter. For each node
that failed for a reason preemption can fix (``Unschedulable``, not
``UnschedulableAndUnresolvable`` -- evicting pods does not change a node's labels or
taints), it asks :func:`~minik.scheduler.preemption.select_victims_on_node` which
lower-priority pods would have to go, runs the scheduler's own filters on the
what-if node, and picks the best node by upstream's criteria
(:func:`~minik.scheduler.preemption.pick_one_node`), fewest PodDisruptionBudget
violations first (the budgets come from the handle's ``budgets`` lister).

The plugin only decides. It nominates the node and leaves the chosen
:class:`~minik.scheduler.preemption.Candidate` in the cycle state; the scheduler then
writes ``status.nominatedNodeName``, deletes the victims gracefully with a
``Preempted`` event on each, and keeps the room reserved (``nominator.py``) until the
pod binds there after the victims are gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from minik.scheduler.framework.interface import FILTER_RUNNER_KEY, FilterRunner, PostFilterPlugin
from minik.scheduler.framework.types import Code, CycleState, FrameworkError, NodeInfo, PodInfo, Status
from minik.scheduler.preemption import (
    CANDIDATE_KEY,
    Candidate,
    pick_one_node,
    preemption_blocked,
    select_victims,
)

Obj = dict[str, Any]

NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"


class DefaultPreemption(PostFilterPlugin):
    name = "DefaultPreemption"

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status | None]:
        snapshot = self.handle.snapshot
        nominator = self.handle.nominator
        nominated = nominator.node_of(pod.key) or (pod.pod.get("status") or {}).get("nominatedNodeName")
        blocked = preemption_blocked(pod, snapshot.get(nominated) if isinstance(nominated, str) else None)
        if blocked is not None:
            return None, Status(Code.UNSCHEDULABLE, (f"preemption: {blocked}",))
        run_filter: FilterRunner = state.read(FILTER_RUNNER_KEY)

        def fits(node: NodeInfo) -> bool:
            try:
                return run_filter(state, pod, node) is None
            except FrameworkError:
                return False

        candidates: list[Candidate] = []
        reasons: Counter[str] = Counter()
        nodes = snapshot.node_info_list
        budgets = self._budgets_near(nodes)
        for node in nodes:
            status = statuses.get(node.name)
            if status is None or status.code != Code.UNSCHEDULABLE:
                reasons[NOT_HELPFUL] += 1
                continue
            found = select_victims(pod, nominator.with_nominated(node, pod), fits, budgets)
            if found is None:
                reasons[NO_VICTIMS] += 1
            else:
                candidates.append(Candidate(node.name, *found))
        best = pick_one_node(candidates)
        if best is None:
            summary = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
            return None, Status(
                Code.UNSCHEDULABLE, (f"preemption: 0/{len(nodes)} nodes are available: {summary}",)
            )
        state.write(CANDIDATE_KEY, best)
        return best.node_name, None

    def _budgets_near(self, nodes: Sequence[NodeInfo]) -> list[Obj]:
        """The PodDisruptionBudgets of every namespace with a pod on these nodes."""
        namespaces = sorted({p.namespace for node in nodes for p in node.pods})
        return [pdb for ns in namespaces for pdb in self.handle.budgets.budgets(ns)]
