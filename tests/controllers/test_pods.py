"""Pod questions controllers ask: finished, ready, available, and which pod to delete first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from minik.controllers.pods import (
    deletion_order,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    is_pod_terminal,
    is_running_and_ready,
    pod_restarts,
    seconds_until_available,
)


def pod(
    name: str,
    *,
    node: str = "",
    phase: str = "Running",
    ready: bool = True,
    created: str = "2024-01-01T00:00:00Z",
    ready_since: str = "2024-01-01T00:00:10Z",
    restarts: int = 0,
    cost: int | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "creationTimestamp": created}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    return {
        "metadata": meta,
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ready_since}
            ],
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }


def test_phases_and_deletion_decide_what_counts() -> None:
    assert is_pod_terminal(pod("a", phase="Succeeded")) and is_pod_terminal(pod("b", phase="Failed"))
    assert not is_pod_terminal(pod("c", phase="Running"))
    assert is_pod_active(pod("d", phase="Pending"))
    deleting = pod("e")
    deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:01:00Z"
    assert not is_pod_active(deleting)  # its replacement may start at once
    assert not is_pod_active(pod("f", phase="Failed"))


def test_readiness_comes_from_the_ready_condition() -> None:
    assert is_pod_ready(pod("a")) and is_running_and_ready(pod("a"))
    assert not is_pod_ready(pod("b", ready=False))
    assert not is_running_and_ready(pod("c", phase="Pending"))
    assert not is_pod_ready({"metadata": {"name": "bare"}})  # no status at all


def test_available_means_ready_for_min_ready_seconds() -> None:
    ready_at = "2024-01-01T00:00:10Z"
    p = pod("a", ready_since=ready_at)
    at = datetime(2024, 1, 1, 0, 0, 25, tzinfo=UTC)  # ready for 15 s
    assert is_pod_available(p, 0, at) and is_pod_available(p, 15, at)
    assert not is_pod_available(p, 20, at)
    assert seconds_until_available(p, 20, at) == 5.0
    assert seconds_until_available(p, 10, at) is None  # already available
    assert seconds_until_available(pod("b", ready=False), 20, at) is None  # not ready: no promise
    assert not is_pod_available(pod("c", ready=False), 0, at)


def test_restarts_are_the_highest_count_of_any_container() -> None:
    p = pod("a", restarts=2)
    p["status"]["initContainerStatuses"] = [{"name": "init", "restartCount": 5}]
    assert pod_restarts(p) == 5
    assert pod_restarts({"status": {}}) == 0


def test_deletion_order_prefers_the_cheapest_pods() -> None:
    pods = [
        pod("ready-old", node="n1", created="2024-01-01T00:00:00Z"),
        pod("ready-new", node="n2", created="2024-01-01T00:05:00Z"),
        pod("not-ready", node="n3", ready=False),
        pod("pending", node="n4", phase="Pending", ready=False),
        pod("unscheduled", phase="Pending", ready=False),
    ]
    order = [p["metadata"]["name"] for p in deletion_order(pods)]
    assert order == ["unscheduled", "pending", "not-ready", "ready-new", "ready-old"]


def test_deletion_order_tie_breaks() -> None:
    doubled = [pod("a", node="n1"), pod("b", node="n1"), pod("c", node="n2")]
    assert deletion_order(doubled)[0]["metadata"]["name"] in ("a", "b")  # doubled up goes first
    by_cost = [pod("cheap", node="x", cost=-10), pod("dear", node="y", cost=100), pod("plain", node="z")]
    assert [p["metadata"]["name"] for p in deletion_order(by_cost)] == ["cheap", "plain", "dear"]
    by_ready_time = [
        pod("long", node="x", ready_since="2024-01-01T00:00:00Z"),
        pod("short", node="y", ready_since="2024-01-01T01:00:00Z"),
    ]
    assert deletion_order(by_ready_time)[0]["metadata"]["name"] == "short"
    by_restarts = [pod("stable", node="x"), pod("flappy", node="y", restarts=7)]
    assert deletion_order(by_restarts)[0]["metadata"]["name"] == "flappy"
