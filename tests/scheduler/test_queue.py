"""The scheduling queue with a fake clock: ordering, backoff, parking, event-driven requeue."""

from __future__ import annotations

import asyncio

import pytest

from minik.client.clock import FakeClock
from minik.scheduler.framework.interface import ClusterEventWithHint
from minik.scheduler.framework.types import ActionType, ClusterEvent, PodInfo, QueuedPodInfo
from minik.scheduler.queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_UPDATE,
    QueueClosed,
    SchedulingQueue,
)
from tests.scheduler.builders import make_pod

EVENTS = {
    "NodeResourcesFit": [
        ClusterEventWithHint(ClusterEvent("AssignedPod", ActionType.DELETE)),
        ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)),
    ],
    "TaintToleration": [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE))],
    "InterPodAffinity": [
        ClusterEventWithHint(
            ClusterEvent("AssignedPod", ActionType.ADD), lambda pending, old, new: new == "match"
        ),
    ],
}


def info(name: str, priority: int = 0, **kwargs: object) -> PodInfo:
    return PodInfo.from_pod(make_pod(name, priority=priority, uid=f"uid-{name}", **kwargs))  # type: ignore[arg-type]


def queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock, plugin_events=EVENTS)


async def fail(q: SchedulingQueue, plugins: set[str]) -> QueuedPodInfo:
    """Pop the head and put it back as unschedulable, rejected by ``plugins``."""
    qpi = await q.pop()
    qpi.unschedulable_plugins = plugins
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    return qpi


async def test_priority_then_arrival() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("low-1"))
    await clock.advance(1)
    q.add(info("high", priority=100))
    await clock.advance(1)
    q.add(info("low-2"))
    order = [(await q.pop()).key for _ in range(3)]
    assert order == ["default/high", "default/low-1", "default/low-2"]


async def test_pop_waits_for_a_pod() -> None:
    q = queue(FakeClock())
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(info("a"))
    assert (await asyncio.wait_for(waiter, 1)).key == "default/a"


async def test_close_wakes_pop() -> None:
    q = queue(FakeClock())
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    q.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(waiter, 1)


async def test_unschedulable_pods_wait_for_a_relevant_event() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    await fail(q, {"NodeResourcesFit"})
    assert q.where("default/a") == "unschedulable"
    await clock.advance(60)
    assert q.where("default/a") == "unschedulable"  # no blind retries
    q.move_all_to_active_or_backoff(ClusterEvent("AssignedPod", ActionType.ADD))  # not registered
    assert q.where("default/a") == "unschedulable"
    assert q.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert q.where("default/a") == "active"  # backoff (1 s) long over


async def test_event_for_other_plugins_does_not_move() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    await fail(q, {"TaintToleration"})
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE) == 0
    assert q.move_all_to_active_or_backoff(NODE_UPDATE) == 1


async def test_queueing_hints_filter_events() -> None:
    q = queue(FakeClock())
    q.add(info("a"))
    await fail(q, {"InterPodAffinity"})
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, "no match") == 0
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, "match") == 1


async def test_backoff_doubles_to_the_cap() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    waits = []
    for _ in range(6):
        qpi = await q.pop()
        qpi.unschedulable_plugins = set()  # an error: straight to backoff
        q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
        assert q.where("default/a") == "backoff"
        waits.append(q.backoff_duration(qpi))
        await clock.advance(waits[-1] - 0.01)
        assert q.where("default/a") == "backoff"
        await clock.advance(0.01)
        assert q.where("default/a") == "active"
    assert waits == [1, 2, 4, 8, 10, 10]


async def test_moved_pod_still_backing_off_goes_to_backoff_first() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    await fail(q, {"NodeResourcesFit"})
    await clock.advance(0.5)
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert q.where("default/a") == "backoff"
    await clock.advance(0.5)
    assert q.where("default/a") == "active"


async def test_event_during_the_cycle_sends_the_pod_to_backoff_not_parking() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    qpi = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(NODE_ADD)  # a node appeared while "a" was being scheduled
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(qpi, cycle)
    assert q.where("default/a") == "backoff"


async def test_long_parked_pods_are_released() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    await fail(q, {"NodeResourcesFit"})
    await clock.advance(299)
    assert q.flush_unschedulable_leftover() == 0
    await clock.advance(2)
    assert q.flush_unschedulable_leftover() == 1
    assert q.where("default/a") == "active"


async def test_update_of_parked_pod() -> None:
    clock = FakeClock()
    q = queue(clock)
    old = info("a")
    q.add(old)
    await fail(q, {"NodeResourcesFit"})
    await clock.advance(5)
    # A status-only change (our own condition write) leaves it parked ...
    status_only = PodInfo.from_pod(
        {**old.pod, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled"}]}}
    )
    q.update(old, status_only)
    assert q.where("default/a") == "unschedulable"
    # ... a spec change may make it fit: back to the queue.
    changed = PodInfo.from_pod({**old.pod, "spec": {**old.pod["spec"], "nodeSelector": {"x": "y"}}})
    q.update(old, changed)
    assert q.where("default/a") == "active"
    assert (await q.pop()).pod is changed


async def test_in_flight_pods_are_not_duplicated() -> None:
    q = queue(FakeClock())
    q.add(info("a"))
    qpi = await q.pop()
    q.add(info("a"))
    q.update(None, info("a"))
    assert q.where("default/a") == "in-flight" and len(q) == 0
    q.done(qpi.key)
    assert q.where("default/a") is None


async def test_delete_removes_everywhere() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(info("a"))
    q.add(info("b"))
    await fail(q, {"NodeResourcesFit"})
    q.delete("default/a")
    q.delete("default/b")
    assert len(q) == 0 and q.pop_nowait() is None
