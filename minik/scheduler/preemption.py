"""Choosing preemption victims, the way upstream's DefaultPreemption does.

When a pod fits on no node, the scheduler asks, node by node: *if some pods of lower
priority left, would it fit here?* This module answers that on the scheduler's
snapshot, without touching the cluster; the DefaultPreemption plugin
(``plugins/defaultpreemption.py``) calls it and the scheduler carries the result out.

**Victims on one node** (:func:`select_victims_on_node`): take every pod of lower
priority off a copy of the node. If the preemptor still does not fit, preempting here
cannot help. Otherwise put the removed pods back one at a time, most important first
(higher priority, then the one running longest), keeping each that still leaves room:
what could not be put back are the victims. This keeps the victims few and of low
priority. PodDisruptionBudgets come first in that: the pods whose eviction would break
a budget (:func:`split_by_budget`) get their chance to stay before the others, and the
ones that still must go are counted as *violations*.

**The node** (:func:`pick_one_node`), upstream's criteria in order:

1. fewest PodDisruptionBudget violations;
2. the lowest priority among the most important victim;
3. the smallest sum of the victims' priorities;
4. the fewest victims;
5. the latest start among the most important victims (disturb the newest work);
6. otherwise the first candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from minik.api.disruption import budget_selector
from minik.scheduler.framework.types import NodeInfo, PodInfo

#: Where DefaultPreemption leaves the chosen :class:`Candidate` for the scheduler to carry out.
CANDIDATE_KEY = "DefaultPreemption/candidate"
#: Added to each priority before summing, so negative priorities sum sensibly (upstream: MaxInt32 + 1).
_PRIORITY_OFFSET = 2**31
#: What a pod that has not started yet counts as: the latest start of all.
_NOT_STARTED = "9999-12-31T23:59:59Z"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node where the preemptor fits once ``victims`` are gone."""

    node_name: str
    victims: tuple[PodInfo, ...]
    #: how many victims' evictions would break a PodDisruptionBudget
    pdb_violations: int = 0


def start_time(pod: PodInfo) -> str:
    """``status.startTime`` (RFC 3339 strings in UTC sort by time); not started: latest."""
    value = (pod.pod.get("status") or {}).get("startTime")
    return value if isinstance(value, str) and value else _NOT_STARTED


def importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key, most important first: higher priority, then earlier start (upstream ``MoreImportantPod``)."""
    return (-pod.priority, start_time(pod))


def split_by_budget(
    pods: Sequence[PodInfo], budgets: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """``(violating, non_violating)``: whose eviction would break a budget, in ``pods`` order.

    As upstream's ``filterPodsWithPDBViolation``: each budget's ``disruptionsAllowed`` is
    spent pod by pod, in order; a pod that overdraws a budget covering it is violating.
    A pod the API server already let go (in ``status.disruptedPods``) spends nothing, and
    a budget with an empty selector covers nothing here.
    """
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in budgets]
    selectors = [budget_selector(pdb) for pdb in budgets]
    violating: list[PodInfo] = []
    non_violating: list[PodInfo] = []
    for pod in pods:
        violated = False
        for i, pdb in enumerate(budgets):
            if not pod.labels or (pdb.get("metadata") or {}).get("namespace") != pod.namespace:
                continue
            if selectors[i].empty or not selectors[i].matches(pod.labels):
                continue
            if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            violated = violated or allowed[i] < 0
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def select_victims(
    pod: PodInfo,
    node: NodeInfo,
    fits: Callable[[NodeInfo], bool],
    budgets: Sequence[Mapping[str, Any]] = (),
) -> tuple[tuple[PodInfo, ...], int] | None:
    """The fewest, least important pods to remove from ``node`` so ``pod`` fits, and how
    many of them break a PodDisruptionBudget.

    ``fits`` runs the scheduler's filters on a (modified) node. Returns None when
    even removing every lower-priority pod would not make room.
    """
    view = node.snapshot()
    potential = sorted((p for p in node.pods if p.priority < pod.priority), key=importance)
    if not potential:
        return None
    for victim in potential:
        view.remove_pod(victim.uid)
    if not fits(view):
        return None
    violating, non_violating = split_by_budget(potential, budgets)
    victims: list[PodInfo] = []
    violations = 0
    # Most important first (each list keeps that order): they get the first chance to stay,
    # and the pods protected by a budget get theirs before everyone else.
    for group in (violating, non_violating):
        for candidate in group:
            view.add_pod(candidate)
            if not fits(view):
                view.remove_pod(candidate.uid)
                victims.append(candidate)
                violations += group is violating
    victims.sort(key=importance)
    return tuple(victims), violations


def select_victims_on_node(
    pod: PodInfo, node: NodeInfo, fits: Callable[[NodeInfo], bool]
) -> tuple[PodInfo, ...] | None:
    """:func:`select_victims` without budgets: just the victims."""
    found = select_victims(pod, node, fits)
    return None if found is None else found[0]


def _rank(candidate: Candidate) -> tuple[int, int, int, int, str]:
    """Smaller is better; the last part is negated in :func:`pick_one_node` (later start wins)."""
    victims = candidate.victims
    highest = max((v.priority for v in victims), default=-_PRIORITY_OFFSET)
    total = sum(v.priority + _PRIORITY_OFFSET for v in victims)
    earliest_of_highest = min((start_time(v) for v in victims if v.priority == highest), default=_NOT_STARTED)
    return (candidate.pdb_violations, highest, total, len(victims), earliest_of_highest)


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate upstream would pick (criteria in the module docs)."""
    if not candidates:
        return None
    best = candidates[0]
    best_rank = _rank(best)
    for candidate in candidates[1:]:
        rank = _rank(candidate)
        # criteria 1-4: smaller wins; criterion 5: the *later* start wins
        if rank[:4] < best_rank[:4] or (rank[:4] == best_rank[:4] and rank[4] > best_rank[4]):
            best, best_rank = candidate, rank
    return best


def preemption_blocked(pod: PodInfo, nominated_node: NodeInfo | None) -> str | None:
    """Why ``pod`` may not preempt now (None: it may), upstream's ``PodEligibleToPreemptOthers``.

    A pod whose class says ``preemptionPolicy: Never`` waits its turn. A pod already
    nominated to a node where a lower-priority pod is still terminating waits for that
    pod to go -- it is most likely the victim of this pod's earlier preemption, and
    preempting again would only take more victims.

    (The sentences end without a period: the failure message adds it.)
    """
    if pod.spec.get("preemptionPolicy") == "Never":
        return "not eligible due to preemptionPolicy=Never"
    if nominated_node is not None:
        for other in nominated_node.pods:
            if other.terminating and other.priority < pod.priority:
                return "not eligible due to a terminating pod on the nominated node"
    return None
