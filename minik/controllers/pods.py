"""What a controller asks about a pod: is it finished, ready, available, and which to delete first.

**Readiness and availability.** A pod is *ready* when its ``Ready`` condition
is ``True``, and *available* when it has been ready for at least
``minReadySeconds`` (measured from the condition's ``lastTransitionTime``).
Controllers count available pods to decide how fast a rollout may go; no event
marks the moment a pod becomes available, so :func:`seconds_until_available`
tells a controller when to look again.

**Which pod to delete.** :func:`deletion_order` ranks pods the way upstream's
``ActivePodsWithRanks`` does: the pod whose loss hurts least goes first —
unscheduled before scheduled, Pending before Unknown before Running, not ready
before ready, pods doubled up on a node before lonely ones, lower
``controller.kubernetes.io/pod-deletion-cost`` first, ready for a shorter time,
more restarts, and finally the newest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from minik.client.objects import (
    Obj,
    annotations_of,
    creation_time,
    get_condition,
    int_field,
    is_being_deleted,
    name_of,
    parse_optional_time,
    spec_of,
    status_of,
)

#: Lower cost → deleted first when a controller scales down.
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def pod_phase(pod: Obj) -> str:
    return str(status_of(pod).get("phase") or "")


def is_pod_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: its containers will never run again."""
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Counts towards a controller's replicas: not finished and not being deleted."""
    return not is_pod_terminal(pod) and not is_being_deleted(pod)


def is_pod_ready(pod: Obj) -> bool:
    cond = get_condition(status_of(pod), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: Obj) -> datetime | None:
    """When the pod last became ready (None if it is not ready)."""
    cond = get_condition(status_of(pod), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_optional_time(cond.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and ready for at least ``min_ready_seconds`` (upstream's ``IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """For a ready but not yet available pod: how long until it is (else None)."""
    if min_ready_seconds <= 0 or not is_pod_ready(pod):
        return None
    since = pod_ready_since(pod)
    if since is None:
        return None
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def is_running_and_ready(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def pod_restarts(pod: Obj) -> int:
    """The highest restart count of the pod's containers (init containers included)."""
    status = status_of(pod)
    counts = [
        int_field(cs, "restartCount")
        for list_name in ("containerStatuses", "initContainerStatuses")
        for cs in status.get(list_name) or []
        if isinstance(cs, dict)
    ]
    return max(counts, default=0)


def _deletion_cost(pod: Obj) -> int:
    try:
        return int(annotations_of(pod).get(POD_DELETION_COST_ANNOTATION, "0"))
    except ValueError:
        return 0


def deletion_rank(pod: Obj, colocated: int = 0) -> tuple[Any, ...]:
    """Sort key: pods that compare *smaller* should be deleted *first*.

    ``colocated`` is how many pods of the same owner share this pod's node;
    spreading survives a node loss better, so doubled-up pods go first.
    """
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod_phase(pod), 3)
    ready = is_pod_ready(pod)
    since = pod_ready_since(pod) if ready else None
    created = creation_time(pod)
    return (
        1 if spec_of(pod).get("nodeName") else 0,  # unscheduled first
        phase_rank,  # Pending < Unknown < Running
        1 if ready else 0,  # not ready first
        -colocated,  # more pods on the same node first
        _deletion_cost(pod),  # cheaper first
        -(since.timestamp() if since else 0.0),  # ready for less time first
        -pod_restarts(pod),  # restarting more first
        -(created.timestamp() if created else 0.0),  # newer first
        name_of(pod),  # deterministic
    )


def deletion_order(pods: Sequence[Obj]) -> list[Obj]:
    """``pods`` sorted so the best candidates for deletion come first (see the module docs)."""
    per_node: dict[str, int] = {}
    for pod in pods:
        node = str(spec_of(pod).get("nodeName") or "")
        if node:
            per_node[node] = per_node.get(node, 0) + 1
    return sorted(
        pods, key=lambda p: deletion_rank(p, per_node.get(str(spec_of(p).get("nodeName") or ""), 0))
    )


__all__ = [
    "POD_DELETION_COST_ANNOTATION",
    "deletion_order",
    "deletion_rank",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "is_pod_terminal",
    "is_running_and_ready",
    "pod_phase",
    "pod_ready_since",
    "pod_restarts",
    "seconds_until_available",
]
