"""PodDisruptionBudgets: which pods a budget covers and how its status reads.

Two parts of minik look at budgets: the disruption controller, which counts the
healthy pods and writes ``status``, and the API server's ``pods/eviction``, which
spends one of the ``disruptionsAllowed`` before it deletes a pod. Both must agree
on which pods a budget covers, what "healthy" means and how the ``DisruptionAllowed``
condition reads, so the answers live here, once (upstream keeps them in its
``pdb`` helper package).

* A budget covers the pods of its namespace that its ``spec.selector`` matches. In
  ``policy/v1`` an empty selector ``{}`` matches every pod of the namespace and a
  missing one matches none.
* A pod is *healthy* when it is Ready (upstream's ``IsPodReady``).
* ``DisruptionAllowed`` is True (reason ``SufficientPods``) while at least one
  disruption is allowed, False (``InsufficientPods``) otherwise; ``SyncFailed`` when
  the controller could not work the numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from minik.api.selectors import LabelSelector, SelectorError

Obj = dict[str, Any]

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
#: ``spec.unhealthyPodEvictionPolicy``: a not-ready pod may always be evicted.
ALWAYS_ALLOW = "AlwaysAllow"
#: The default policy: a not-ready pod may be evicted only while the budget is met.
IF_HEALTHY_BUDGET = "IfHealthyBudget"
#: How long an evicted pod counts as "being deleted" before the controller counts it again.
DELETION_TIMEOUT_SECONDS = 120.0
#: More unconfirmed evictions than this and a budget refuses further ones (upstream's limit).
MAX_DISRUPTED_PODS = 2000


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the pod's ``Ready`` condition is True -- what a budget calls healthy."""
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def budget_selector(pdb: Mapping[str, Any]) -> LabelSelector:
    """The pods a budget covers (``None`` matches none; a broken selector matches none)."""
    raw = (pdb.get("spec") or {}).get("selector")
    try:
        return LabelSelector.from_dict(raw)
    except SelectorError:
        return LabelSelector.nothing()


def covers(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ``pdb`` protects ``pod`` (same namespace, selector matches its labels)."""
    pdb_ns = (pdb.get("metadata") or {}).get("namespace")
    pod_ns = (pod.get("metadata") or {}).get("namespace")
    if pdb_ns != pod_ns:
        return False
    return budget_selector(pdb).matches((pod.get("metadata") or {}).get("labels") or {})


def budgets_for(pod: Mapping[str, Any], budgets: Iterable[Obj]) -> list[Obj]:
    """The budgets among ``budgets`` that cover ``pod``."""
    return [pdb for pdb in budgets if covers(pdb, pod)]


def set_disruption_allowed(status: Obj, now: str, *, reason: str | None = None) -> None:
    """Set ``DisruptionAllowed`` from ``status.disruptionsAllowed`` (or to ``reason``, False).

    ``lastTransitionTime`` moves only when the condition's status changes, as
    upstream's ``SetStatusCondition`` does.
    """
    if reason is None:
        allowed = int(status.get("disruptionsAllowed") or 0) > 0
        reason = SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS
    else:
        allowed = False
    wanted = {
        "type": DISRUPTION_ALLOWED,
        "status": "True" if allowed else "False",
        "reason": reason,
        "message": "",
        "observedGeneration": int(status.get("observedGeneration") or 0),
        "lastTransitionTime": now,
    }
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    for i, cond in enumerate(conditions):
        if cond.get("type") == DISRUPTION_ALLOWED:
            if cond.get("status") == wanted["status"] and cond.get("lastTransitionTime"):
                wanted["lastTransitionTime"] = cond["lastTransitionTime"]
            conditions[i] = wanted
            break
    else:
        conditions.append(wanted)
    status["conditions"] = conditions
