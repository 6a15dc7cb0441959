"""Eviction rate limits per zone: the pure rules, and the node lifecycle controller on a fake clock."""

from __future__ import annotations

import math
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import ConflictError
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import NODES
from minik.client.objects import Obj
from minik.controllers.evictionlimits import (
    EvictionLimits,
    TokenBucket,
    ZoneLimiter,
    ZoneState,
    zone_of,
    zone_rate,
    zone_state,
)
from minik.controllers.nodelifecycle import TAINT_NOT_READY, NodeLifecycleController
from tests.client.fakes import FakeAPI

LIMITS = EvictionLimits()


@pytest.mark.parametrize(
    ("ready", "not_ready", "state"),
    [
        (0, 1, ZoneState.FULL_DISRUPTION),
        (0, 0, ZoneState.NORMAL),
        (10, 2, ZoneState.NORMAL),  # two down is never more than Normal
        (1, 3, ZoneState.PARTIAL_DISRUPTION),  # 75% >= 55%, more than two
        (3, 3, ZoneState.NORMAL),  # 50% < 55%
        (9, 11, ZoneState.PARTIAL_DISRUPTION),  # 55% exactly
    ],
)
def test_zone_state(ready: int, not_ready: int, state: ZoneState) -> None:
    assert zone_state(ready, not_ready, LIMITS.unhealthy_zone_threshold) is state


def test_zone_rates_follow_upstream() -> None:
    assert zone_rate(ZoneState.NORMAL, 10, LIMITS) == 0.1
    assert zone_rate(ZoneState.FULL_DISRUPTION, 10, LIMITS) == 0.1  # one zone down, others fine
    assert zone_rate(ZoneState.PARTIAL_DISRUPTION, 50, LIMITS) == 0.0  # small zone: stop
    assert zone_rate(ZoneState.PARTIAL_DISRUPTION, 51, LIMITS) == 0.01  # large zone: slow down


def test_zone_of_reads_region_and_zone_labels() -> None:
    assert zone_of({"metadata": {"name": "n"}}) == ""
    node = {
        "metadata": {"labels": {"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "a"}}
    }
    assert zone_of(node) == "r:a"
    assert zone_of({"metadata": {"labels": {"failure-domain.beta.kubernetes.io/zone": "b"}}}) == ":b"


def test_token_bucket_one_burst_then_the_rate() -> None:
    bucket = TokenBucket(0.1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(10.0)
    assert bucket.take(4.0) == pytest.approx(6.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(100.0) == 0.0  # a burst of one: waiting long saves up one token only
    assert bucket.take(100.0) == pytest.approx(10.0)
    bucket.set_rate(0.0, 100.0)
    assert bucket.take(1000.0) == math.inf


def test_limiter_stops_everything_when_every_zone_is_down_and_says_when_it_recovers() -> None:
    limiter = ZoneLimiter(LIMITS)
    assert limiter.observe([("a", False), ("a", False), ("b", False)], now=0.0) is False
    assert limiter.all_disrupted
    assert limiter.take("a", 0.0) == math.inf
    assert limiter.observe([("a", True), ("a", False), ("b", False)], now=1.0) is True
    assert not limiter.all_disrupted
    # Zone b alone is fully down while a is not: b evicts at the normal rate.
    assert limiter.states["b"] is ZoneState.FULL_DISRUPTION
    assert limiter.take("b", 1.0) == 0.0


# -- the controller, on a fake clock --------------------------------------------------------------


def _node(name: str, ready: str, zone: str = "") -> Obj:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": "x"}]},
    }


class _Cluster:
    """An unstarted controller whose node cache the test fills and syncs by hand."""

    def __init__(self, limits: EvictionLimits = LIMITS) -> None:
        self.api = FakeAPI()
        self.clock = FakeClock()
        factory = SharedInformerFactory(self.api)
        self.nlc = NodeLifecycleController(
            self.api,  # type: ignore[arg-type]
            factory,
            grace_period=3600,  # silence is not what these tests are about
            limits=limits,
            clock=self.clock,
        )

    def add(self, node: Obj) -> None:
        self.nlc.nodes.store.add(self.api.put(NODES, node))

    def set_ready(self, name: str, ready: str) -> None:
        node = self.api.stored(NODES, name)
        assert node is not None
        node["status"]["conditions"][0]["status"] = ready
        self.add(node)

    async def reconcile(self, name: str) -> Any:
        result = await self.nlc.reconcile(name)
        stored = self.api.stored(NODES, name)
        assert stored is not None
        self.nlc.nodes.store.add(stored)  # what the watch would bring
        return result

    def no_execute(self, name: str) -> bool:
        node = self.api.stored(NODES, name) or {}
        return any(t.get("effect") == "NoExecute" for t in node.get("spec", {}).get("taints") or [])

    def no_schedule(self, name: str) -> bool:
        node = self.api.stored(NODES, name) or {}
        return any(
            t == {"key": TAINT_NOT_READY, "effect": "NoSchedule"}
            for t in node.get("spec", {}).get("taints") or []
        )


async def test_a_healthy_zone_taints_one_node_every_ten_seconds() -> None:
    c = _Cluster()
    for i in range(10):
        c.add(_node(f"n{i}", "True"))
    for i in (0, 1):
        c.set_ready(f"n{i}", "False")
    await c.reconcile("n0")
    assert c.no_execute("n0")  # the first token is there at once
    result = await c.reconcile("n1")
    assert not c.no_execute("n1") and c.no_schedule("n1")  # NoSchedule never waits
    assert result is not None and 5.0 <= result.requeue_after <= 10.1
    await c.clock.advance(5.0)
    await c.reconcile("n1")
    assert not c.no_execute("n1")
    await c.clock.advance(5.0)
    await c.reconcile("n1")
    assert c.no_execute("n1")  # ten seconds after the first


async def test_a_small_zone_mostly_down_evicts_nothing() -> None:
    c = _Cluster()
    for i in range(4):
        c.add(_node(f"n{i}", "True"))
    for i in range(3):
        c.set_ready(f"n{i}", "False")
    await c.clock.advance(2.0)  # the zone census is at most a second old
    for _ in range(3):
        for i in range(3):
            await c.reconcile(f"n{i}")
        await c.clock.advance(100.0)
    assert not any(c.no_execute(f"n{i}") for i in range(3))
    assert all(c.no_schedule(f"n{i}") for i in range(3))


async def test_a_large_zone_mostly_down_evicts_at_the_secondary_rate() -> None:
    c = _Cluster()
    for i in range(60):
        c.add(_node(f"n{i}", "True"))
    for i in range(40):
        c.set_ready(f"n{i}", "False")
    tainted_at: list[float] = []
    for _ in range(25):  # 250 s at 0.01/s: the burst of one, then one per 100 s
        for i in range(40):
            if not c.no_execute(f"n{i}"):
                await c.reconcile(f"n{i}")
                if c.no_execute(f"n{i}"):
                    tainted_at.append(c.clock.now())
        await c.clock.advance(10.0)
    assert len(tainted_at) == 3
    assert tainted_at[1] - tainted_at[0] == pytest.approx(100.0, abs=10.0)


async def test_every_node_down_stops_evictions_and_lifts_the_no_execute_taints() -> None:
    c = _Cluster()
    for i in range(3):
        c.add(_node(f"n{i}", "True"))
    c.set_ready("n0", "False")
    await c.reconcile("n0")
    assert c.no_execute("n0")
    for i in (1, 2):
        c.set_ready(f"n{i}", "False")
    await c.clock.advance(2.0)
    for i in range(3):
        await c.reconcile(f"n{i}")
    assert c.nlc.limiter.all_disrupted
    assert not any(c.no_execute(f"n{i}") for i in range(3))  # n0's taint came off too
    assert all(c.no_schedule(f"n{i}") for i in range(3))
    # One node answers again: evictions resume at the normal rate.
    c.set_ready("n2", "True")
    await c.clock.advance(2.0)
    await c.reconcile("n0")
    assert not c.nlc.limiter.all_disrupted
    assert not c.no_execute("n0")  # the token n0 used before the outage is not back yet
    await c.clock.advance(10.0)
    await c.reconcile("n0")
    assert c.no_execute("n0")


async def test_zones_are_limited_separately() -> None:
    c = _Cluster()
    for zone in ("a", "b"):
        for i in range(5):
            c.add(_node(f"{zone}{i}", "True", zone=zone))
    for name in ("a0", "a1", "b0"):
        c.set_ready(name, "False")
    for name in ("a0", "a1", "b0"):
        await c.reconcile(name)
    assert c.no_execute("a0") and c.no_execute("b0")  # each zone's first token
    assert not c.no_execute("a1")  # a's next one is ten seconds away


async def test_a_taint_write_that_conflicts_spends_no_eviction_token() -> None:
    """The token pays for an eviction; a write the server refused evicted nobody."""
    c = _Cluster()
    for i in range(10):
        c.add(_node(f"n{i}", "True"))
    c.set_ready("n0", "False")
    c.api.fail("update", ConflictError(409, "Conflict", "the object has been modified"))
    with pytest.raises(ConflictError):
        await c.reconcile("n0")
    assert not c.no_execute("n0")
    await c.reconcile("n0")  # the retry, at the same moment: the token is still there
    assert c.no_execute("n0")
