"""The kubelet's control loop against a real API server with the fake runtime (no Docker)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from minik.client.errors import NotFoundError
from minik.client.kinds import EVENTS, LEASES, NODES, PODS
from minik.client.rest import APIClient
from tests.conftest import APIServerProcess
from tests.kubelet.harness import in_process_kubelet, kubelet_args

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20, what: str = "condition"
) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def pod(name: str, node: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "minik/workload:1.0"}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def cond(p: dict[str, Any], kind: str) -> str | None:
    return next(
        (c["status"] for c in (p.get("status") or {}).get("conditions") or [] if c["type"] == kind), None
    )


async def test_fake_node_registers_runs_pods_and_deletes_them(
    apiserver: APIServerProcess, ns: str, tmp_path: Path
) -> None:
    node = f"fake-{secrets.token_hex(3)}"
    argv = kubelet_args(
        node=node,
        kubeconfig=apiserver.kubeconfig,
        root=tmp_path,
        runtime="fake",
        cidr="10.243.7.0/24",
        port=10999,
        extra=["--anonymous-auth"],
    )
    async with in_process_kubelet(argv) as k:
        c: APIClient = k.client
        n = await c.get(NODES, node)
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == node
        assert n["spec"]["podCIDR"] == "10.243.7.0/24"
        assert n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10999
        assert n["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("fake://")
        assert n["status"]["capacity"]["pods"] == "110"
        assert {x["type"] for x in n["status"]["conditions"]} >= {
            "Ready",
            "MemoryPressure",
            "DiskPressure",
            "PIDPressure",
        }
        lease = await eventually(lambda: _get(c, LEASES, node, "kube-node-lease"), what="lease")
        assert lease["spec"]["holderIdentity"] == node

        await c.create(PODS, pod("p1", node), namespace=ns)

        async def running() -> dict[str, Any] | None:
            p = await c.get(PODS, "p1", namespace=ns)
            return p if p.get("status", {}).get("phase") == "Running" and cond(p, "Ready") == "True" else None

        p = await eventually(running, what="p1 Running and Ready")
        assert p["status"]["podIP"].startswith("10.243.7.")
        assert p["status"]["hostIP"] == "127.0.0.1"
        assert p["status"]["qosClass"] == "BestEffort"
        assert p["status"]["containerStatuses"][0]["state"]["running"]

        await c.patch(PODS, "p1", {"metadata": {"annotations": {"minik.dev/ready": "false"}}}, namespace=ns)

        async def unready() -> bool:
            return cond(await c.get(PODS, "p1", namespace=ns), "Ready") == "False"

        await eventually(unready, what="Ready=False from the annotation")

        await c.delete(PODS, "p1", namespace=ns)
        await eventually(lambda: _gone(c, "p1", ns), what="p1 deleted")
        assert await k.runtime.list_containers() == []


async def _get(c: APIClient, res: Any, name: str, ns: str | None = None) -> dict[str, Any] | None:
    try:
        return await c.get(res, name, namespace=ns)
    except NotFoundError:
        return None


async def _gone(c: APIClient, name: str, ns: str) -> bool:
    return await _get(c, PODS, name, ns) is None


class _CountingClient:
    """The kubelet's client, counting the pod status writes that go through it."""

    def __init__(self, inner: APIClient) -> None:
        self.inner = inner
        self.status_writes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def patch(self, resource: Any, name: str, body: Any, **kwargs: Any) -> Any:
        if resource is PODS and kwargs.get("subresource") == "status":
            self.status_writes.append(name)
        return await self.inner.patch(resource, name, body, **kwargs)


async def test_pod_status_is_written_once_per_real_change(
    apiserver: APIServerProcess, ns: str, tmp_path: Path
) -> None:
    node = f"fake-{secrets.token_hex(3)}"
    argv = kubelet_args(
        node=node, kubeconfig=apiserver.kubeconfig, root=tmp_path, runtime="fake", cidr="10.243.8.0/24"
    )
    async with in_process_kubelet(argv) as k:
        counting = _CountingClient(k.client)
        k.kubelet.client = counting  # type: ignore[assignment]
        c = k.client
        await c.create(PODS, pod("p1", node), namespace=ns)

        async def ready() -> bool:
            return cond(await c.get(PODS, "p1", namespace=ns), "Ready") == "True"

        await eventually(ready, what="p1 Ready")
        started = len(counting.status_writes)
        assert 1 <= started <= 2  # Running (perhaps after one Pending with ContainerCreating)

        # Every sync recomputes the status; when nothing changed, nothing is written.
        syncs: list[str] = []
        sync_pod = k.kubelet.sync_pod

        async def counted(worker: Any) -> None:
            await sync_pod(worker)
            syncs.append(worker.uid)

        k.kubelet.sync_pod = counted  # type: ignore[method-assign,assignment]

        async def three_syncs() -> None:
            for _ in range(3):
                before = len(syncs)
                k.kubelet.wake_all()
                await eventually(lambda b=before: _true(len(syncs) > b), what="a sync")  # type: ignore[misc]

        await three_syncs()
        assert len(counting.status_writes) == started

        # One real change (the fake readiness annotation): exactly one write.
        await c.patch(PODS, "p1", {"metadata": {"annotations": {"minik.dev/ready": "false"}}}, namespace=ns)

        async def unready() -> bool:
            return cond(await c.get(PODS, "p1", namespace=ns), "Ready") == "False"

        await eventually(unready, what="Ready=False from the annotation")
        await three_syncs()
        assert len(counting.status_writes) == started + 1


async def _true(value: bool) -> bool:
    return value


async def test_a_limit_the_runtime_cannot_hold_is_reported_not_crashed_on(
    apiserver: APIServerProcess, ns: str, tmp_path: Path
) -> None:
    """``limits.memory: 1e400`` is a valid quantity (upstream accepts it); no runtime can enforce it."""
    node = f"fake-{secrets.token_hex(3)}"
    argv = kubelet_args(
        node=node,
        kubeconfig=apiserver.kubeconfig,
        root=tmp_path,
        runtime="fake",
        cidr="10.243.8.0/24",
        port=10998,
        extra=["--anonymous-auth"],
    )
    async with in_process_kubelet(argv) as k:
        c: APIClient = k.client
        huge = pod("huge", node)
        huge["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1e400"}}
        await c.create(PODS, huge, namespace=ns)

        async def config_error() -> dict[str, Any] | None:
            p = await c.get(PODS, "huge", namespace=ns)
            statuses = (p.get("status") or {}).get("containerStatuses") or []
            waiting = statuses[0]["state"].get("waiting") if statuses else None
            return waiting if waiting and waiting["reason"] == "CreateContainerConfigError" else None

        waiting = await eventually(config_error, what="CreateContainerConfigError")
        assert (
            "limits.memory" in waiting["message"]
            and "larger than the container runtime" in waiting["message"]
        )

        async def failed_event() -> bool:
            events = (await c.list(EVENTS, namespace=ns))["items"]
            return any(
                e["involvedObject"]["name"] == "huge"
                and e["reason"] == "Failed"
                and "limits.memory" in e["message"]
                for e in events
            )

        await eventually(failed_event, what="a Failed event naming the limit")
