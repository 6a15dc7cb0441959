"""The scheduling loop end to end, in memory: fake API client, fake clock, informer events by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import ConflictError, InternalServerError
from minik.client.objects import deepcopy
from minik.scheduler.config import default_profile, parse_config
from minik.scheduler.eventhandlers import EventHandlers
from minik.scheduler.scheduler import Scheduler
from tests.scheduler.builders import make_node, make_pod

Obj = dict[str, Any]


class FakeClient:
    """Records bindings and status patches; binding failures can be queued up."""

    def __init__(self) -> None:
        self.bindings: list[tuple[str, str]] = []
        self.patches: list[tuple[str, Obj]] = []
        self.failures: list[Exception] = []

    async def create_binding(self, pod: Obj, node: str) -> Obj:
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        self.bindings.append((pod["metadata"]["name"], node))
        return {}

    async def patch(self, resource: Any, name: str, body: Any, **kwargs: Any) -> Obj:
        self.patches.append((name, body))
        return {}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], type, reason, message))


class Harness:
    def __init__(self, config: Any = None) -> None:
        self.clock = FakeClock()
        self.client = FakeClient()
        self.recorder = Recorder()
        self.scheduler = Scheduler(
            config=config, client=self.client, recorder=self.recorder, clock=self.clock
        )
        self.handlers = EventHandlers(self.scheduler)
        self.pods: dict[str, Obj] = {}
        self.scheduler.pod_lister = self.pods.get

    def node(self, node: Obj) -> None:
        self.handlers.on_node_add(node)

    def pod(self, pod: Obj) -> None:
        self.pods[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = pod
        self.handlers.on_pod_add(pod)

    def confirm_bindings(self) -> None:
        """What the informer would report after the bindings: the pods, now assigned."""
        for name, node in self.client.bindings:
            key = f"default/{name}"
            old = self.pods[key]
            if old["spec"].get("nodeName"):
                continue
            new = deepcopy(old)
            new["spec"]["nodeName"] = node
            self.pods[key] = new
            self.handlers.on_pod_update(old, new)

    async def settle(self) -> None:
        await self.clock.settle(200)

    def events(self, reason: str) -> list[tuple[str, str]]:
        return [(name, message) for name, _, r, message in self.recorder.events if r == reason]


@pytest.fixture()
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    task = asyncio.create_task(h.scheduler.run())
    yield h
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await h.scheduler.stop()


async def test_pods_land_where_they_fit(harness: Harness) -> None:
    harness.node(make_node("small", cpu="1"))
    harness.node(make_node("big", cpu="8"))
    harness.pod(make_pod("p", cpu="2"))
    await harness.settle()
    assert harness.client.bindings == [("p", "big")]
    assert harness.events("Scheduled") == [("p", "Successfully assigned default/p to big")]


async def test_assumed_pods_count_before_the_api_confirms(harness: Harness) -> None:
    harness.node(make_node("n1", cpu="4"))
    harness.node(make_node("n2", cpu="4"))
    for i in range(2):
        harness.pod(make_pod(f"p{i}", cpu="3"))
    await harness.settle()
    assert sorted(node for _, node in harness.client.bindings) == ["n1", "n2"]


async def test_unschedulable_pod_waits_then_fits_when_a_node_is_added(harness: Harness) -> None:
    harness.node(make_node("n1", cpu="1"))
    harness.node(
        make_node("n2", cpu="4", taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
    )
    harness.pod(make_pod("big", cpu="2"))
    await harness.settle()
    message = (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: x}. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )
    assert harness.events("FailedScheduling") == [("big", message)]
    assert harness.client.bindings == []
    ((name, body),) = harness.client.patches
    condition = body["status"]["conditions"][0]
    assert name == "big" and condition["type"] == "PodScheduled" and condition["status"] == "False"
    assert condition["reason"] == "Unschedulable" and condition["message"] == message
    assert harness.scheduler.queue.where("default/big") == "unschedulable"

    await harness.clock.advance(30)
    assert harness.client.bindings == []  # no blind retries

    harness.node(make_node("n3", cpu="4"))
    await harness.settle()
    assert harness.client.bindings == [("big", "n3")]


async def test_unschedulable_pod_fits_when_a_pod_is_deleted(harness: Harness) -> None:
    harness.node(make_node("n1", cpu="2"))
    harness.pod(make_pod("first", cpu="2"))
    await harness.settle()
    harness.confirm_bindings()
    harness.pod(make_pod("second", cpu="2"))
    await harness.settle()
    assert harness.events("FailedScheduling") == [
        (
            "second",
            "0/1 nodes are available: 1 Insufficient cpu. "
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        )
    ]
    harness.handlers.on_pod_delete(harness.pods.pop("default/first"))
    await harness.clock.advance(1)  # the first retry's backoff
    await harness.settle()
    assert harness.client.bindings[-1] == ("second", "n1")


async def test_condition_is_written_only_when_it_changes(harness: Harness) -> None:
    harness.node(make_node("n1", cpu="1"))
    pod = make_pod("big", cpu="2")
    harness.pod(pod)
    await harness.settle()
    # The informer brings our condition back; a retry with the same verdict writes nothing.
    updated = deepcopy(pod)
    updated["status"]["conditions"] = [harness.client.patches[0][1]["status"]["conditions"][0]]
    harness.pods["default/big"] = updated
    harness.handlers.on_pod_update(pod, updated)
    harness.handlers.on_node_update(make_node("n1", cpu="1"), make_node("n1", cpu="1500m"))
    await harness.clock.advance(2)
    await harness.settle()
    assert len(harness.events("FailedScheduling")) == 2
    assert len(harness.client.patches) == 1


async def test_failed_bind_is_retried_after_backoff(harness: Harness) -> None:
    harness.client.failures.append(InternalServerError(500, "InternalError", "etcd hiccup"))
    harness.node(make_node("n1"))
    harness.pod(make_pod("p", cpu="1"))
    await harness.settle()
    assert harness.client.bindings == []
    assert harness.scheduler.queue.where("default/p") == "backoff"
    assert harness.scheduler.cache.pod_count == 0  # the assumption was forgotten
    assert "etcd hiccup" in harness.events("FailedScheduling")[0][1]
    await harness.clock.advance(1)
    await harness.settle()
    assert harness.client.bindings == [("p", "n1")]


async def test_conflict_on_bind_is_not_retried(harness: Harness) -> None:
    harness.client.failures.append(ConflictError(409, "Conflict", 'pod p is already assigned to node "n9"'))
    harness.node(make_node("n1"))
    harness.pod(make_pod("p", cpu="1"))
    await harness.settle()
    await harness.clock.advance(20)
    await harness.settle()
    assert harness.client.bindings == [] and harness.scheduler.queue.where("default/p") is None
    assert harness.events("FailedScheduling") == []


async def test_higher_priority_first(harness: Harness) -> None:
    harness.pod(make_pod("low", cpu="3", priority=0))
    harness.pod(make_pod("high", cpu="3", priority=1000))
    await harness.settle()  # no nodes yet: both fail
    harness.node(make_node("n1", cpu="4"))
    await harness.clock.advance(1)
    await harness.settle()
    assert harness.client.bindings == [("high", "n1")]


async def test_pods_for_other_schedulers_are_ignored(harness: Harness) -> None:
    harness.node(make_node("n1"))
    harness.pod(make_pod("mine"))
    harness.pod(make_pod("theirs", scheduler_name="someone-else"))
    await harness.settle()
    assert harness.client.bindings == [("mine", "n1")]


async def test_two_profiles_in_one_scheduler() -> None:
    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [
                {"schedulerName": "default-scheduler"},
                {
                    "schedulerName": "packer",
                    "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}]}},
                    "pluginConfig": [
                        {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
                    ],
                },
            ],
        }
    )
    h = Harness(config)
    task = asyncio.create_task(h.scheduler.run())
    try:
        h.node(make_node("empty", cpu="8"))
        h.node(make_node("busy", cpu="8"))
        h.pod(make_pod("existing", cpu="4", node_name="busy"))
        h.pod(make_pod("spread", cpu="1"))
        h.pod(make_pod("packed", cpu="1", scheduler_name="packer"))
        await h.settle()
        assert sorted(h.client.bindings) == [("packed", "busy"), ("spread", "empty")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_percentage_of_nodes_to_score_limits_the_search() -> None:
    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "percentageOfNodesToScore": 10,
        }
    )
    s = Scheduler(config=config)
    for i in range(500):
        s.cache.add_node(make_node(f"n{i:03}"))
    s.cache.update_snapshot(s.snapshot)
    fwk = s.profiles["default-scheduler"]
    from minik.scheduler.framework.types import CycleState, PodInfo

    feasible, _ = s.find_nodes_that_fit(fwk, CycleState(), PodInfo.from_pod(make_pod()))
    assert len(feasible) == 100 and feasible[0].name == "n000"
    feasible, _ = s.find_nodes_that_fit(fwk, CycleState(), PodInfo.from_pod(make_pod()))
    assert feasible[0].name == "n100"  # the next search starts where the last one stopped
    assert default_profile().percentage_of_nodes_to_score is None
