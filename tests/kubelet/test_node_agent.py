"""The node heartbeat: leases on their own client, spread in time, retried with back-off."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from minik.client.errors import APIConnectionError
from minik.client.kinds import LEASES, NODES
from minik.kubelet.node import (
    LEASE_NAMESPACE,
    RETRY_MAX,
    HostInfo,
    NodeAgent,
    NodeSettings,
    missing_taints,
    node_object,
)
from tests.client.fakes import FakeAPI

_real_sleep = asyncio.sleep
HOST = HostInfo(cpus=2, memory_bytes=2 << 30, runtime_version="fake://0")


class _Sleeps:
    """Stands in for ``asyncio.sleep`` in the node module: records, and ends the loop."""

    def __init__(self, stop_after: int) -> None:
        self.delays: list[float] = []
        self.stop_after = stop_after

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) >= self.stop_after:
            raise asyncio.CancelledError
        await _real_sleep(0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Sleeps]:
    recorder = _Sleeps(stop_after=6)
    monkeypatch.setattr(asyncio, "sleep", recorder)  # what minik.kubelet.node calls
    yield recorder


def _agent(name: str, client: FakeAPI, lease_client: FakeAPI | None = None, seed: int = 1) -> NodeAgent:
    settings = NodeSettings(name=name, address="127.0.0.1", port=10250, lease_interval=10.0)
    (lease_client or client).put(NODES, node_object(settings, HOST))
    return NodeAgent(
        client,  # type: ignore[arg-type]
        settings,
        HOST,
        lease_client=lease_client,  # type: ignore[arg-type]
        rng=random.Random(seed),
    )


def test_renewal_waits_are_jittered_by_up_to_four_percent() -> None:
    agent = _agent("n", FakeAPI())
    waits = [agent.next_renewal_in() for _ in range(200)]
    assert all(10.0 <= w <= 10.4 for w in waits)
    assert max(waits) - min(waits) > 0.2  # not all the same


async def test_spread_start_then_jittered_interval(sleeps: _Sleeps) -> None:
    api = FakeAPI()
    agent = _agent("n", api)
    with pytest.raises(asyncio.CancelledError):
        await agent.run(spread=True)
    first, *rest = sleeps.delays
    assert 0 <= first <= 10.0  # a random part of one interval after the first renewal
    assert all(10.0 <= d <= 10.4 for d in rest)
    assert agent.renewals == len(sleeps.delays)
    assert api.stored(LEASES, "n", LEASE_NAMESPACE) is not None


async def test_many_nodes_renew_at_different_moments(sleeps: _Sleeps) -> None:
    firsts = []
    for seed in range(20):
        sleeps.delays.clear()
        with pytest.raises(asyncio.CancelledError):
            await _agent(f"n{seed}", FakeAPI(), seed=seed).run(spread=True)
        firsts.append(sleeps.delays[0])
    # Twenty nodes' offsets cover the interval instead of bunching at one instant.
    assert max(firsts) - min(firsts) > 5.0
    assert len({round(f, 3) for f in firsts}) == 20


async def test_a_failed_renewal_is_retried_with_back_off_and_never_raises(sleeps: _Sleeps) -> None:
    api = FakeAPI()
    sleeps.stop_after = 8
    failure = APIConnectionError("PATCH leases: no answer within 10s")
    api.fail("create", *[failure] * 7)
    agent = _agent("n", api)
    with pytest.raises(asyncio.CancelledError):
        await agent.run()
    assert sleeps.delays[:7] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, RETRY_MAX])
    assert 10.0 <= sleeps.delays[7] <= 10.4  # the eighth attempt worked: back to the interval
    assert agent.renewals == 1


async def test_heartbeats_use_their_own_client(sleeps: _Sleeps) -> None:
    main, lane = FakeAPI(), FakeAPI()
    main.blockers["patch"] = asyncio.Event()  # pod status writes hang on the main client
    main.blockers["create"] = asyncio.Event()
    agent = _agent("n", main, lease_client=lane)
    sleeps.stop_after = 3
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(agent.run(), 5)
    assert agent.renewals == 3
    assert main.calls == []  # not one heartbeat request went through the busy client
    assert {verb for verb, plural, _ in lane.calls if plural == "leases"} == {"create", "patch"}


def test_register_with_taints_and_labels() -> None:
    settings = NodeSettings(
        name="n",
        address="127.0.0.1",
        port=1,
        labels={"type": "kwok"},
        taints=[{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}],
    )
    node = node_object(settings, HOST)
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert node["spec"]["taints"] == [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}]
    kept = {"key": "other", "effect": "NoExecute"}
    assert missing_taints([kept], settings.taints) == [kept, *settings.taints]
    assert missing_taints([*settings.taints], settings.taints) == list(settings.taints)


async def test_an_existing_node_gets_missing_taints_added() -> None:
    api = FakeAPI()
    other = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    api.put(NODES, {"metadata": {"name": "n"}, "spec": {"taints": [other]}})
    settings = NodeSettings(
        name="n", address="127.0.0.1", port=1, taints=[{"key": "fake", "effect": "NoSchedule"}]
    )
    agent = NodeAgent(api, settings, HOST)  # type: ignore[arg-type]
    await agent.register()
    stored = api.stored(NODES, "n")
    assert stored is not None
    assert stored["spec"]["taints"] == [other, {"key": "fake", "effect": "NoSchedule"}]


async def test_after_a_stall_longer_than_the_lease_the_live_node_is_read_and_corrected() -> None:
    """The control plane marked the node Unknown while the kubelet stalled: it says Ready at once."""
    api = FakeAPI()
    now = [0.0]
    settings = NodeSettings(name="n", address="127.0.0.1", port=10250, lease_duration=40)
    api.put(NODES, node_object(settings, HOST))
    agent = NodeAgent(api, settings, HOST, clock=lambda: now[0])  # type: ignore[arg-type]
    await agent.register()
    await agent.renew_lease()
    now[0] += 30.0  # a late renewal, but within the lease: the cache is trusted
    await agent.renew_lease()
    api.calls.clear()
    await agent.update_status()
    assert ("get", NODES.plural) not in [(verb, plural) for verb, plural, _ in api.calls]

    stored = api.stored(NODES, "n")
    assert stored is not None
    for condition in stored["status"]["conditions"]:
        condition["status"] = "Unknown"  # what the node lifecycle controller writes
    now[0] += 41.0
    await agent.renew_lease()
    await agent.update_status()
    stored = api.stored(NODES, "n")
    assert stored is not None
    ready = [c for c in stored["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
