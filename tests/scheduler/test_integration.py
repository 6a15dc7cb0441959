"""The scheduler against a real minik-apiserver and etcd, with fake Node objects (no kubelet, no Docker).

The module runs its own API server so that the nodes it creates are the only
ones: the failure messages count nodes ("0/3 nodes are available"), and
another test's nodes would change the count. Each test starts a fresh
scheduler (in-process, or as real ``minik-scheduler`` processes for leader
election) and deletes its nodes and pods afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import EVENTS, NAMESPACES, NODES, PODS, PRIORITYCLASSES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.pooled import PooledAPIClient
from minik.client.rest import APIClient
from minik.cluster.etcd_process import free_port
from minik.scheduler.config import SchedulerConfig, default_profile
from minik.scheduler.main import SchedulerApp
from tests.conftest import APIServerProcess, _stop, launch_apiserver, launch_etcd
from tests.scheduler.builders import container, make_node, make_pod

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(workdir: Path) -> Iterator[APIServerProcess]:
    etcd = launch_etcd(workdir)
    server = launch_apiserver(workdir, etcd.url)
    yield server
    _stop(server.process)
    _stop(etcd.process)


@pytest.fixture()
async def client(cluster: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(cluster.kubeconfig)) as c:
        yield c
        # Clean up: pods first (grace 0: there is no kubelet), then every node.
        for pod in (await c.list(PODS)).get("items") or []:
            meta = pod["metadata"]
            with contextlib.suppress(NotFoundError):
                await c.delete(PODS, meta["name"], namespace=meta["namespace"], grace_period_seconds=0)
        for node in (await c.list(NODES)).get("items") or []:
            with contextlib.suppress(NotFoundError):
                await c.delete(NODES, node["metadata"]["name"])


@pytest.fixture()
async def ns(client: APIClient) -> str:
    name = f"sched-{secrets.token_hex(4)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def eventually(
    probe: Callable[[], Awaitable[Any]], timeout: float = 20.0, message: str = "condition"
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


@contextlib.asynccontextmanager
async def running_scheduler(
    cluster: APIServerProcess, *, name: str = "default-scheduler", identity: str = "test-scheduler"
) -> AsyncIterator[SchedulerApp]:
    config = SchedulerConfig(profiles=[default_profile(name)])
    config.leader_election.leader_elect = False
    api = PooledAPIClient(load_kubeconfig(cluster.kubeconfig))
    app = SchedulerApp(api, config, identity=identity)
    await app.start(sync_timeout=30)
    task = asyncio.create_task(app.run())
    try:
        yield app
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.stop()
        await api.aclose()


async def create_nodes(client: APIClient, *nodes: Obj) -> None:
    for node in nodes:
        await client.create(NODES, node)


async def create_pod(client: APIClient, ns: str, pod: Obj) -> None:
    pod["metadata"]["namespace"] = ns
    pod["metadata"].pop("uid", None)
    pod.pop("status", None)
    await client.create(PODS, pod, namespace=ns)


async def node_of(client: APIClient, ns: str, name: str) -> str | None:
    pod = await client.get(PODS, name, namespace=ns)
    node = pod["spec"].get("nodeName")
    return str(node) if node else None


async def bound(client: APIClient, ns: str, *names: str, timeout: float = 20.0) -> dict[str, str]:
    async def probe() -> dict[str, str] | None:
        placed = {n: await node_of(client, ns, n) for n in names}
        return placed if all(placed.values()) else None  # type: ignore[return-value]

    result: dict[str, str] = await eventually(probe, timeout, f"{names} to be bound")
    return result


def condition(pod: Obj, kind: str = "PodScheduled") -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return dict(cond)
    return None


async def events(client: APIClient, ns: str, reason: str | None = None) -> list[Obj]:
    items = (await client.list(EVENTS, namespace=ns)).get("items") or []
    return [e for e in items if reason is None or e.get("reason") == reason]


TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


async def test_pods_land_where_the_rules_say(cluster: APIServerProcess, client: APIClient, ns: str) -> None:
    await create_nodes(
        client,
        make_node("small", cpu="1"),
        make_node("big", cpu="8", labels={"disk": "ssd"}),
        make_node("cordoned", cpu="16", unschedulable=True),
        make_node("control-plane", cpu="16", taints=[TAINT]),
    )
    async with running_scheduler(cluster):
        await create_pod(client, ns, make_pod("needs-ssd", nodeSelector={"disk": "ssd"}))
        await create_pod(client, ns, make_pod("needs-4-cpus", cpu="4"))
        await create_pod(
            client,
            ns,
            make_pod(
                "tolerant",
                nodeSelector={"kubernetes.io/hostname": "control-plane"},
                tolerations=[{"key": TAINT["key"], "operator": "Exists"}],
            ),
        )
        small = [f"small-{i}" for i in range(8)]
        for name in small:
            await create_pod(client, ns, make_pod(name, cpu="100m"))
        placed = await bound(client, ns, "needs-ssd", "needs-4-cpus", "tolerant", *small)

    assert placed["needs-ssd"] == "big" and placed["needs-4-cpus"] == "big"
    assert placed["tolerant"] == "control-plane"
    assert {placed[n] for n in small} <= {"small", "big"}  # never cordoned or tainted nodes
    pod = await client.get(PODS, "needs-ssd", namespace=ns)
    cond = condition(pod)
    assert cond is not None and cond["status"] == "True"
    scheduled = await eventually(lambda: events(client, ns, "Scheduled"), message="Scheduled events")
    messages = {e["message"] for e in scheduled}
    assert f"Successfully assigned {ns}/needs-ssd to big" in messages
    assert all(e["source"]["component"] == "default-scheduler" for e in scheduled)


async def test_a_pod_that_fits_nowhere_waits_and_is_scheduled_when_room_appears(
    cluster: APIServerProcess, client: APIClient, ns: str
) -> None:
    await create_nodes(client, make_node("n1", cpu="2"), make_node("tainted", cpu="8", taints=[TAINT]))
    async with running_scheduler(cluster):
        await create_pod(client, ns, make_pod("first", cpu="2"))
        assert await bound(client, ns, "first") == {"first": "n1"}
        await create_pod(client, ns, make_pod("second", cpu="2"))

        message = (
            "0/2 nodes are available: 1 Insufficient cpu, "
            "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. "
            "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
            "1 Preemption is not helpful for scheduling."
        )

        def unschedulable(name: str) -> Callable[[], Awaitable[Obj | None]]:
            async def probe() -> Obj | None:
                cond = condition(await client.get(PODS, name, namespace=ns))
                return cond if cond and cond.get("status") == "False" else None

            return probe

        cond = await eventually(unschedulable("second"), message="PodScheduled=False")
        assert cond["reason"] == "Unschedulable" and cond["message"] == message
        failed = await eventually(lambda: events(client, ns, "FailedScheduling"), message="FailedScheduling")
        assert failed[0]["message"] == message and failed[0]["type"] == "Warning"
        assert await node_of(client, ns, "second") is None

        # A node frees up: the parked pod is moved back by the delete event and bound.
        await client.delete(PODS, "first", namespace=ns, grace_period_seconds=0)
        assert await bound(client, ns, "second") == {"second": "n1"}

        # Fits nowhere again ... until a node is added.
        await create_pod(client, ns, make_pod("third", cpu="2"))
        cond = await eventually(unschedulable("third"), message="third pending")
        assert cond["message"] == message
        assert await node_of(client, ns, "third") is None
        await create_nodes(client, make_node("n2", cpu="2"))
        assert await bound(client, ns, "third") == {"third": "n2"}


async def test_anti_affinity_spreads_replicas(cluster: APIServerProcess, client: APIClient, ns: str) -> None:
    await create_nodes(client, *(make_node(f"n{i}", cpu="8") for i in range(3)))
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    async with running_scheduler(cluster):
        names = [f"web-{i}" for i in range(4)]
        for name in names:
            await create_pod(client, ns, make_pod(name, cpu="100m", labels={"app": "web"}, affinity=anti))
        placed = await bound(client, ns, *names[:3])
        assert sorted(placed.values()) == ["n0", "n1", "n2"]

        async def fourth_pending() -> str | None:
            cond = condition(await client.get(PODS, "web-3", namespace=ns))
            return cond.get("message") if cond and cond.get("status") == "False" else None

        message = await eventually(fourth_pending, message="web-3 unschedulable")
        # (Preemption could only help by evicting pods of lower priority; these are all equal.)
        assert message == (
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
            "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        )


async def test_a_second_scheduler_runs_beside_the_default_one(
    cluster: APIServerProcess, client: APIClient, ns: str
) -> None:
    await create_nodes(client, make_node("n1"))
    async with (
        running_scheduler(cluster, identity="default-one"),
        running_scheduler(cluster, name="my-scheduler", identity="custom-one"),
    ):
        await create_pod(client, ns, make_pod("plain"))
        await create_pod(client, ns, make_pod("custom", scheduler_name="my-scheduler"))
        await create_pod(client, ns, make_pod("nobody", scheduler_name="not-running"))
        await bound(client, ns, "plain", "custom")

        async def two_events() -> list[Obj] | None:
            found = await events(client, ns, "Scheduled")
            return found if len(found) == 2 else None

        by_pod = {e["involvedObject"]["name"]: e["source"]["component"] for e in await eventually(two_events)}
        assert by_pod == {"plain": "default-scheduler", "custom": "my-scheduler"}
        await asyncio.sleep(0.5)
        assert await node_of(client, ns, "nobody") is None


# --- high availability: two real minik-scheduler processes ---------------------------------------


def start_scheduler_process(
    cluster: APIServerProcess, identity: str, metrics_port: int, log: Path
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "minik.scheduler.main",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--leader-elect-identity",
        identity,
        "--leader-elect-lease-duration",
        "3s",
        "--leader-elect-renew-deadline",
        "2s",
        "--leader-elect-retry-period",
        "500ms",
        "--metrics-port",
        str(metrics_port),
        "--log-level",
        "info",
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def test_two_schedulers_with_leader_election_never_double_bind(
    cluster: APIServerProcess, client: APIClient, ns: str, workdir: Path
) -> None:
    await create_nodes(client, *(make_node(f"n{i}", cpu="16") for i in range(4)))
    ports = {"sched-a": free_port(), "sched-b": free_port()}
    logs = {name: workdir / f"{name}-{secrets.token_hex(3)}.log" for name in ports}
    procs = {name: start_scheduler_process(cluster, name, ports[name], logs[name]) for name in ports}
    try:

        async def leader() -> str | None:
            try:
                lease = await client.get("leases", "minik-scheduler", namespace="kube-system")
            except NotFoundError:
                return None
            holder = lease["spec"].get("holderIdentity")
            return str(holder) if holder in ports else None

        first = await eventually(leader, 30, "a leader")
        names = [f"p{i:02}" for i in range(30)]
        for name in names:
            await create_pod(client, ns, make_pod(name, containers=[container(cpu="100m", memory="64Mi")]))
        await bound(client, ns, *names, timeout=60)

        async def all_events() -> list[Obj] | None:
            found = await events(client, ns, "Scheduled")
            return found if len(found) >= len(names) else None

        scheduled = await eventually(all_events, 30, "30 Scheduled events")
        per_pod: dict[str, int] = {}
        for event in scheduled:
            name = event["involvedObject"]["name"]
            per_pod[name] = per_pod.get(name, 0) + int(event.get("count") or 1)
        assert per_pod == dict.fromkeys(names, 1)  # each pod bound exactly once
        assert {e["reportingInstance"] for e in scheduled} == {first}  # ... and only by the leader
        assert await events(client, ns, "FailedScheduling") == []

        # Metrics of the leader count exactly those attempts.
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{ports[first]}/metrics")).text
            assert (await http.get(f"http://127.0.0.1:{ports[first]}/healthz")).status_code == 200
        assert (
            'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 30' in metrics
        )
        assert "scheduler_leader 1" in metrics

        # The leader dies without releasing the lease: the standby takes over after it expires.
        os.killpg(procs[first].pid, signal.SIGKILL)
        procs[first].wait(10)
        second = next(n for n in ports if n != first)
        assert await eventually(lambda: _is(leader, second), 30, "the standby to lead")
        await create_pod(client, ns, make_pod("after-failover", cpu="100m"))
        await bound(client, ns, "after-failover", timeout=30)

        async def failover_event() -> list[Obj] | None:
            found = [
                e
                for e in await events(client, ns, "Scheduled")
                if e["involvedObject"]["name"] == "after-failover"
            ]
            return found or None

        (event,) = await eventually(failover_event, 20, "the failover Scheduled event")
        assert event["reportingInstance"] == second
    finally:
        for proc in procs.values():
            _stop(proc)
        for log in logs.values():
            if log.exists():
                sys.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}\n")


async def _is(probe: Callable[[], Awaitable[str | None]], value: str) -> bool:
    return await probe() == value


# -- priority and preemption -----------------------------------------------------------------------


@pytest.fixture()
async def priority_classes(client: APIClient) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Create PriorityClasses (cluster-scoped, so uniquely named) and delete them afterwards."""
    created: list[str] = []

    async def make(prefix: str, value: int, **fields: Any) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        body = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}}
        await client.create(PRIORITYCLASSES, {**body, "value": value, **fields})
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(NotFoundError):
            await client.delete(PRIORITYCLASSES, name)


async def finish_deletions(client: APIClient, ns: str) -> None:
    """What a kubelet does for a pod whose graceful delete started: stop it, then delete it for good."""
    while True:
        for pod in (await client.list(PODS, namespace=ns)).get("items") or []:
            if pod["metadata"].get("deletionTimestamp"):
                with contextlib.suppress(NotFoundError):
                    await client.delete(PODS, pod["metadata"]["name"], namespace=ns, grace_period_seconds=0)
        await asyncio.sleep(0.1)


def of_class(pod: Obj, priority_class: str) -> Obj:
    """The pod names its class and leaves ``priority`` to the API server, which refuses any other."""
    pod["spec"]["priorityClassName"] = priority_class
    pod["spec"].pop("priority")
    return pod


def pinned(name: str, node: str, cpu: str, priority_class: str) -> Obj:
    return of_class(make_pod(name, cpu=cpu, nodeSelector={"kubernetes.io/hostname": node}), priority_class)


async def test_a_high_priority_pod_preempts_the_cheapest_victims_and_runs(
    cluster: APIServerProcess, client: APIClient, ns: str, priority_classes: Callable[..., Awaitable[str]]
) -> None:
    low, mid, high = (
        await priority_classes("low", 10),
        await priority_classes("mid", 100),
        await priority_classes("high", 1000),
    )
    await create_nodes(client, make_node("n1", cpu="2"), make_node("n2", cpu="2"))
    kubelet = asyncio.create_task(finish_deletions(client, ns))
    try:
        async with running_scheduler(cluster):
            # Both nodes full: n1 with two low pods, n2 with a mid and a low one.
            for pod in (
                pinned("low-a", "n1", "1", low),
                pinned("low-b", "n1", "1", low),
                pinned("mid-c", "n2", "1", mid),
                pinned("low-d", "n2", "1", low),
            ):
                await create_pod(client, ns, pod)
            await bound(client, ns, "low-a", "low-b", "mid-c", "low-d")

            await create_pod(client, ns, of_class(make_pod("urgent", cpu="2"), high))
            # n2 would cost a priority-100 pod; n1 only priority-10 ones: both of them go.
            assert await bound(client, ns, "urgent") == {"urgent": "n1"}
            pod = await client.get(PODS, "urgent", namespace=ns)
            assert pod["spec"]["priority"] == 1000
            assert pod["status"]["nominatedNodeName"] == "n1"

            remaining = {p["metadata"]["name"] for p in (await client.list(PODS, namespace=ns))["items"]}
            assert remaining == {"urgent", "mid-c", "low-d"}
            preempted = await eventually(
                lambda: _two(events(client, ns, "Preempted")), message="two Preempted events"
            )
            assert {(e["involvedObject"]["name"], e["message"]) for e in preempted} == {
                ("low-a", f"Preempted by {ns}/urgent on node n1"),
                ("low-b", f"Preempted by {ns}/urgent on node n1"),
            }
            scheduled = {e["message"] for e in await events(client, ns, "Scheduled")}
            assert f"Successfully assigned {ns}/urgent to n1" in scheduled
    finally:
        kubelet.cancel()
        await asyncio.gather(kubelet, return_exceptions=True)


async def _two(found: Awaitable[list[Obj]]) -> list[Obj] | None:
    items = await found
    return items if len(items) >= 2 else None


async def test_a_pod_with_preemption_policy_never_waits_instead(
    cluster: APIServerProcess, client: APIClient, ns: str, priority_classes: Callable[..., Awaitable[str]]
) -> None:
    low = await priority_classes("low", 10)
    polite = await priority_classes("polite", 1000, preemptionPolicy="Never")
    await create_nodes(client, make_node("n1", cpu="2"))
    async with running_scheduler(cluster):
        await create_pod(client, ns, pinned("low-a", "n1", "2", low))
        await bound(client, ns, "low-a")
        await create_pod(client, ns, of_class(make_pod("polite", cpu="2"), polite))
        failed = await eventually(lambda: events(client, ns, "FailedScheduling"), message="FailedScheduling")
        assert failed[0]["message"] == (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
        )
        pod = await client.get(PODS, "polite", namespace=ns)
        assert pod["spec"]["preemptionPolicy"] == "Never" and not pod["status"].get("nominatedNodeName")
        low_pod = await client.get(PODS, "low-a", namespace=ns)
        assert not low_pod["metadata"].get("deletionTimestamp")
        assert await events(client, ns, "Preempted") == []
