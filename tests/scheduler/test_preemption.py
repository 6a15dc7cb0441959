"""Preemption: which pods are victims, which node is chosen, and what the scheduler does about it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.objects import deepcopy
from minik.scheduler.eventhandlers import EventHandlers
from minik.scheduler.framework.nominator import Nominator
from minik.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from minik.scheduler.preemption import (
    Candidate,
    pick_one_node,
    preemption_blocked,
    select_victims,
    select_victims_on_node,
    split_by_budget,
)
from minik.scheduler.scheduler import Scheduler
from tests.scheduler.builders import framework, make_node, make_pod, pod_info, snapshot

Obj = dict[str, Any]


def running(
    name: str, node: str, *, priority: int, cpu: str = "1", started: str = "2026-01-01T00:00:00Z"
) -> Obj:
    pod = make_pod(name, cpu=cpu, priority=priority, node_name=node)
    pod["status"] = {"phase": "Running", "startTime": started}
    return pod


def fits_cpu(pod: PodInfo) -> Any:
    """A stand-in for the filters: the pod fits if the node has the CPU for it."""

    def fits(node: NodeInfo) -> bool:
        return node.req_cpu + pod.requests.milli_cpu <= node.alloc_cpu

    return fits


def names(pods: Any) -> list[str]:
    return sorted(p.name for p in pods)


# -- victims on one node ----------------------------------------------------------------------


def test_only_lower_priority_pods_are_victims_and_the_important_ones_are_spared() -> None:
    snap = snapshot(
        [make_node("n", cpu="4")],
        [
            running("low-a", "n", priority=1),
            running("low-b", "n", priority=2),
            running("mid", "n", priority=5, cpu="2"),
            running("peer", "n", priority=10, cpu="0"),  # same priority as the preemptor: never a victim
        ],
    )
    pod = pod_info(make_pod("high", cpu="2", priority=10))
    victims = select_victims_on_node(pod, snap.node_info_map["n"], fits_cpu(pod))
    # mid (priority 5) gets the first chance to stay and takes the room: both low pods go.
    assert victims is not None and names(victims) == ["low-a", "low-b"]
    assert len(snap.node_info_map["n"].pods) == 4  # the snapshot itself is untouched


def test_among_equals_the_most_recently_started_pod_is_the_victim() -> None:
    snap = snapshot(
        [make_node("n", cpu="3")],
        [
            running("old", "n", priority=0, started="2026-01-01T00:00:00Z"),
            running("newest", "n", priority=0, started="2026-01-03T00:00:00Z"),
            running("middle", "n", priority=0, started="2026-01-02T00:00:00Z"),
        ],
    )
    pod = pod_info(make_pod("high", cpu="1", priority=100))
    assert names(select_victims_on_node(pod, snap.node_info_map["n"], fits_cpu(pod)) or ()) == ["newest"]


def test_a_node_where_even_all_lower_pods_leaving_is_not_enough_is_no_candidate() -> None:
    snap = snapshot(
        [make_node("n", cpu="2")], [running("low", "n", priority=0), running("vip", "n", priority=1000)]
    )
    pod = pod_info(make_pod("high", cpu="2", priority=100))
    assert select_victims_on_node(pod, snap.node_info_map["n"], fits_cpu(pod)) is None


# -- choosing the node ------------------------------------------------------------------------


def candidate(node: str, *victims: tuple[int, str]) -> Candidate:
    pods = []
    for i, (priority, started) in enumerate(victims):
        p = running(f"{node}-{i}", node, priority=priority, started=started)
        pods.append(pod_info(p))
    return Candidate(node, tuple(pods))


T1, T2 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"


def test_the_node_whose_most_important_victim_matters_least_wins() -> None:
    best = pick_one_node([candidate("a", (5, T1)), candidate("b", (3, T1), (3, T1), (1, T1))])
    assert best is not None and best.node_name == "b"


def test_then_the_smallest_sum_of_priorities() -> None:
    best = pick_one_node([candidate("a", (3, T1), (2, T1)), candidate("b", (3, T1), (1, T1))])
    assert best is not None and best.node_name == "b"


def test_then_the_fewest_victims() -> None:
    best = pick_one_node([candidate("a", (0, T1), (0, T1)), candidate("b", (0, T1))])
    assert best is not None and best.node_name == "b"


def test_then_the_latest_started_victims() -> None:
    best = pick_one_node([candidate("a", (4, T1)), candidate("b", (4, T2))])
    assert best is not None and best.node_name == "b"
    assert pick_one_node([]) is None


def test_a_node_that_needs_no_victims_beats_any_that_does() -> None:
    best = pick_one_node([candidate("a", (0, T1)), candidate("b")])
    assert best is not None and best.node_name == "b"


# -- PodDisruptionBudgets --------------------------------------------------------------------


def budget(app: str, allowed: int, disrupted: tuple[str, ...] = (), namespace: str = "default") -> Obj:
    return {
        "metadata": {"name": app, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": app}}},
        "status": {"disruptionsAllowed": allowed, "disruptedPods": {n: T1 for n in disrupted}},
    }


def labelled(name: str, app: str, node: str = "n", *, priority: int = 0, cpu: str = "1") -> Obj:
    pod = running(name, node, priority=priority, cpu=cpu)
    pod["metadata"]["labels"] = {"app": app}
    return pod


def test_a_budget_is_spent_pod_by_pod_and_the_overdraft_is_violating() -> None:
    pods = [pod_info(labelled(n, "web")) for n in ("w1", "w2", "w3")] + [pod_info(labelled("x", "other"))]
    violating, fine = split_by_budget(pods, [budget("web", 1)])
    assert names(violating) == ["w2", "w3"] and names(fine) == ["w1", "x"]
    # A pod the API server already let go spends nothing; another namespace's budget covers nothing.
    violating, _ = split_by_budget(pods, [budget("web", 1, disrupted=("w1",))])
    assert names(violating) == ["w3"]
    assert split_by_budget(pods, [budget("web", 0, namespace="elsewhere")])[0] == []


def test_pods_protected_by_a_budget_get_the_first_chance_to_stay() -> None:
    snap = snapshot(
        [make_node("n", cpu="2")], [labelled("guarded", "web"), labelled("free", "batch", priority=5)]
    )
    pod = pod_info(make_pod("high", cpu="1", priority=100))
    # Without a budget the less important pod goes...
    assert names(select_victims_on_node(pod, snap.node_info_map["n"], fits_cpu(pod)) or ()) == ["guarded"]
    # ...but a budget that allows no disruption protects it, and the other one goes instead.
    found = select_victims(pod, snap.node_info_map["n"], fits_cpu(pod), [budget("web", 0)])
    assert found is not None and names(found[0]) == ["free"] and found[1] == 0


def test_the_node_with_fewest_budget_violations_wins_before_everything_else() -> None:
    snap = snapshot(
        [make_node("a", cpu="1"), make_node("b", cpu="1")],
        [labelled("guarded", "web", "a", priority=0), labelled("free", "batch", "b", priority=5)],
    )
    pod = pod_info(make_pod("high", cpu="1", priority=100))
    budgets = [budget("web", 0)]
    candidates = []
    for node in ("a", "b"):
        found = select_victims(pod, snap.node_info_map[node], fits_cpu(pod), budgets)
        assert found is not None
        candidates.append(Candidate(node, *found))
    assert [c.pdb_violations for c in candidates] == [1, 0]
    best = pick_one_node(candidates)
    # b's victim has the higher priority, but evicting it breaks no budget.
    assert best is not None and best.node_name == "b"


# -- who may preempt --------------------------------------------------------------------------


def test_preemption_policy_never_and_a_terminating_victim_block_preemption() -> None:
    never = pod_info(make_pod("p", priority=100, preemptionPolicy="Never"))
    assert preemption_blocked(never, None) == "not eligible due to preemptionPolicy=Never"
    going = running("victim", "n", priority=0)
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    node = snapshot([make_node("n")], [going]).node_info_map["n"]
    pod = pod_info(make_pod("p", priority=100))
    assert preemption_blocked(pod, node) == "not eligible due to a terminating pod on the nominated node"
    assert preemption_blocked(pod, None) is None


def test_nominated_pods_hold_room_against_lower_and_equal_priorities_only() -> None:
    node = snapshot([make_node("n", cpu="2")]).node_info_map["n"]
    nominator = Nominator()
    nominated = pod_info(make_pod("nominated", cpu="2", priority=50))
    nominator.add(nominated, "n")
    assert nominator.with_nominated(node, pod_info(make_pod("lower", priority=10))).req_cpu == 2000
    assert nominator.with_nominated(node, pod_info(make_pod("equal", priority=50))).req_cpu == 2000
    assert nominator.with_nominated(node, pod_info(make_pod("higher", priority=60))) is node
    assert nominator.with_nominated(node, nominated) is node  # never against itself
    assert node.req_cpu == 0


# -- the plugin with the default profile's filters --------------------------------------------


def post_filter(nodes: list[Obj], pods: list[Obj], pod: Obj) -> tuple[str | None, Any, CycleState]:
    snap = snapshot(nodes, pods)
    fwk = framework(snap)
    state, info = CycleState(), pod_info(pod)
    _, status = fwk.run_pre_filter(state, info, snap.node_info_list)
    assert status is None
    statuses: dict[str, Any] = {}
    feasible, _ = fwk.find_feasible(state, info, snap.node_info_list, start=0, limit=100, statuses=statuses)
    assert feasible == []
    nominated, post = fwk.run_post_filter(state, info, statuses)
    return nominated, post, state


def test_default_preemption_nominates_the_node_with_the_cheapest_victims() -> None:
    nodes = [make_node("n1", cpu="2"), make_node("n2", cpu="2")]
    pods = [running("l1", "n1", priority=5, cpu="2"), running("l2", "n2", priority=1, cpu="2")]
    nominated, post, state = post_filter(nodes, pods, make_pod("high", cpu="1", priority=100))
    assert (nominated, post) == ("n2", None)
    chosen = state.read("DefaultPreemption/candidate")
    assert names(chosen.victims) == ["l2"]


def test_default_preemption_leaves_nodes_it_cannot_help_alone_and_says_why() -> None:
    taint = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    nodes = [make_node("tainted", cpu="2", taints=[taint]), make_node("full", cpu="2")]
    pods = [running("vip", "full", priority=1000, cpu="2"), running("low", "tainted", priority=0, cpu="2")]
    nominated, post, _ = post_filter(nodes, pods, make_pod("high", cpu="1", priority=100))
    assert nominated is None
    assert post.message == (
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling"
    )


# -- the scheduler carries it out -------------------------------------------------------------


class FakeClient:
    def __init__(self) -> None:
        self.bindings: list[tuple[str, str]] = []
        self.patches: list[tuple[str, Obj]] = []
        self.deletes: list[str] = []

    async def create_binding(self, pod: Obj, node: str) -> Obj:
        await asyncio.sleep(0)
        self.bindings.append((pod["metadata"]["name"], node))
        return {}

    async def patch(self, resource: Any, name: str, body: Any, **kwargs: Any) -> Obj:
        self.patches.append((name, body))
        return {}

    async def delete(self, resource: Any, name: str, **kwargs: Any) -> Obj:
        self.deletes.append(name)
        return {}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], reason, message))


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.client = FakeClient()
        self.recorder = Recorder()
        self.scheduler = Scheduler(client=self.client, recorder=self.recorder, clock=self.clock)
        self.handlers = EventHandlers(self.scheduler)
        self.pods: dict[str, Obj] = {}
        self.scheduler.pod_lister = self.pods.get

    def add(self, obj: Obj) -> None:
        if obj["kind"] == "Node":
            self.handlers.on_node_add(obj)
            return
        self.pods[f"default/{obj['metadata']['name']}"] = obj
        self.handlers.on_pod_add(obj)

    def delete(self, name: str) -> None:
        self.handlers.on_pod_delete(self.pods.pop(f"default/{name}"))

    def confirm_bindings(self) -> None:
        for name, node in self.client.bindings:
            old = self.pods[f"default/{name}"]
            if not old["spec"].get("nodeName"):
                new = deepcopy(old)
                new["spec"]["nodeName"] = node
                self.pods[f"default/{name}"] = new
                self.handlers.on_pod_update(old, new)

    def nominations(self) -> list[tuple[str, Any]]:
        return [
            (name, body["status"]["nominatedNodeName"])
            for name, body in self.client.patches
            if "nominatedNodeName" in body.get("status", {})
        ]

    def events(self, reason: str) -> list[tuple[str, str]]:
        return [(name, message) for name, r, message in self.recorder.events if r == reason]


@pytest.fixture()
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    task = asyncio.create_task(h.scheduler.run())
    yield h
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await h.scheduler.stop()


async def test_a_high_priority_pod_preempts_then_binds_when_the_victim_is_gone(harness: Harness) -> None:
    harness.add(make_node("n1", cpu="2"))
    harness.add(make_node("n2", cpu="2"))
    harness.add(running("l1", "n1", priority=5, cpu="2"))
    harness.add(running("l2", "n2", priority=1, cpu="2"))
    harness.add(make_pod("high", cpu="2", priority=100))
    await harness.clock.settle(200)
    assert harness.nominations() == [("high", "n2")]
    assert harness.client.deletes == ["l2"]
    assert harness.events("Preempted") == [("l2", "Preempted by default/high on node n2")]
    conditions = [body["status"]["conditions"][0] for name, body in harness.client.patches if name == "l2"]
    assert conditions[0]["type"] == "DisruptionTarget" and conditions[0]["reason"] == "PreemptionByScheduler"
    assert harness.client.bindings == []
    # A lower-priority newcomer may not take the room held for the preemptor.
    harness.delete("l2")
    harness.add(make_pod("sneaky", cpu="2", priority=0))
    await harness.clock.advance(2)
    await harness.clock.settle(200)
    assert harness.client.bindings == [("high", "n2")]
    assert harness.scheduler.nominator.node_of("default/high") is None
    assert harness.client.deletes == ["l2"]  # nobody else was preempted


async def test_a_pod_that_may_not_preempt_waits(harness: Harness) -> None:
    harness.add(make_node("n1", cpu="2"))
    harness.add(running("low", "n1", priority=0, cpu="2"))
    harness.add(make_pod("polite", cpu="2", priority=100, preemptionPolicy="Never"))
    await harness.clock.settle(200)
    assert harness.client.deletes == [] and harness.nominations() == []
    [(_, message)] = harness.events("FailedScheduling")
    assert message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    )


async def test_the_preemptor_does_not_preempt_again_while_its_victim_terminates(harness: Harness) -> None:
    harness.add(make_node("n1", cpu="2"))
    victim = running("low", "n1", priority=0, cpu="2")
    harness.add(victim)
    harness.add(make_pod("high", cpu="2", priority=100))
    await harness.clock.settle(200)
    assert harness.client.deletes == ["low"]
    # The victim is terminating (graceful delete): a retry of the preemptor must just wait.
    going = deepcopy(victim)
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    harness.pods["default/low"] = going
    harness.handlers.on_pod_update(victim, going)
    harness.add(make_node("tiny", cpu="1"))  # a cluster event: the preemptor is tried again
    await harness.clock.advance(5)
    await harness.clock.settle(200)
    assert harness.client.deletes == ["low"] and harness.client.bindings == []
    assert len(harness.events("FailedScheduling")) == 2
    assert harness.events("FailedScheduling")[-1][1].endswith(
        "preemption: not eligible due to a terminating pod on the nominated node."
    )


async def test_the_room_of_a_nominated_pod_is_held_from_lower_priorities_only(harness: Harness) -> None:
    harness.add(make_node("n1", cpu="2"))
    nominated = make_pod("nominated", cpu="2", priority=50)
    nominated["status"]["nominatedNodeName"] = "n1"
    harness.scheduler.nominator.add(pod_info(nominated), "n1")  # its victims are terminating
    harness.add(make_pod("lower", cpu="2", priority=10, preemptionPolicy="Never"))
    await harness.clock.settle(200)
    assert harness.client.bindings == []
    harness.add(make_pod("higher", cpu="2", priority=60))
    await harness.clock.settle(200)
    assert harness.client.bindings == [("higher", "n1")]


async def test_a_retry_while_the_evictions_are_still_running_evicts_nobody_twice(harness: Harness) -> None:
    release = asyncio.Event()
    original = harness.client.delete

    async def slow_delete(resource: Any, name: str, **kwargs: Any) -> Obj:
        await release.wait()
        return await original(resource, name, **kwargs)

    harness.client.delete = slow_delete  # type: ignore[method-assign]
    harness.add(make_node("n1", cpu="2"))
    harness.add(running("low", "n1", priority=0, cpu="2"))
    harness.add(make_pod("high", cpu="2", priority=100))
    await harness.clock.settle(200)
    harness.add(make_node("tiny", cpu="1"))  # the preemptor is tried again, the victim not yet terminating
    await harness.clock.advance(5)
    await harness.clock.settle(200)
    release.set()
    await harness.clock.settle(200)
    assert harness.client.deletes == ["low"]
    assert harness.events("Preempted") == [("low", "Preempted by default/high on node n1")]
