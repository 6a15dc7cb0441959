"""Pod GC on a real API server: orphaned pods and surplus terminated pods are deleted."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import NODES, PODS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.pooled import PooledAPIClient
from minik.client.rest import APIClient
from minik.controllers.podgc import PodGCController
from tests.conftest import APIServerProcess

from .kubelet_stub import KubeletStub, controllers_running, eventually, pod_manifest

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


async def _names(client: APIClient, ns: str) -> set[str]:
    return {p["metadata"]["name"] for p in (await client.list(PODS, namespace=ns))["items"]}


async def test_pods_of_deleted_nodes_are_force_deleted(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    doomed, alive = f"doomed-{secrets.token_hex(3)}", f"alive-{secrets.token_hex(3)}"
    await kubelet.register_node(doomed, beat=False)
    await kubelet.register_node(alive, beat=False)
    for name, node in (
        ("on-doomed", doomed),
        ("stuck", doomed),
        ("on-alive", alive),
        ("on-ghost", "never-existed"),
    ):
        await client.create(PODS, pod_manifest(name, ns, node=node))
        await kubelet.set_pod_status(ns, name, ready=True)
    await client.delete(PODS, "stuck", namespace=ns)  # graceful: waits for a kubelet that will never come

    def make(c: APIClient, f: Any, r: Any) -> PodGCController:
        return PodGCController(c, f, r, gc_period=0.2, quarantine=0.3)

    try:
        async with controllers_running(client, make, namespace=ns) as (gc,):
            await eventually(
                lambda: _lacks(client, ns, "on-ghost"), message="pod of a never-seen node deleted"
            )
            assert await _names(client, ns) == {"on-doomed", "stuck", "on-alive"}
            await client.delete(NODES, doomed)
            await eventually(
                lambda: _lacks(client, ns, "on-doomed", "stuck"), message="orphans force-deleted"
            )
            passes = gc.passes
            await eventually(lambda: gc.passes >= passes + 3, message="more GC passes")
            assert await _names(client, ns) == {"on-alive"}
    finally:
        for node in (doomed, alive):
            with contextlib.suppress(NotFoundError):
                await client.delete(NODES, node)


async def _lacks(client: APIClient, ns: str, *names: str) -> bool:
    return not (await _names(client, ns)) & set(names)


async def test_terminated_pods_beyond_the_threshold_oldest_first(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    for i in range(5):
        await client.create(PODS, pod_manifest(f"done-{i}", ns, node="some-node"))
        await kubelet.set_pod_status(ns, f"done-{i}", phase="Succeeded" if i % 2 else "Failed", ready=False)
    await client.create(PODS, pod_manifest("running", ns, node="some-node"))
    await kubelet.set_pod_status(ns, "running", ready=True)

    def make(c: APIClient, f: Any, r: Any) -> PodGCController:
        # A long quarantine keeps the orphan rule out of this test ("some-node" does not exist).
        return PodGCController(c, f, r, gc_period=0.2, terminated_pod_threshold=2, quarantine=3600)

    async with controllers_running(client, make, namespace=ns):
        await eventually(lambda: _lacks(client, ns, "done-0", "done-1", "done-2"), message="3 oldest deleted")
        assert await _names(client, ns) == {"done-3", "done-4", "running"}


async def test_terminating_pods_on_an_out_of_service_node_are_force_deleted(
    client: APIClient, ns: str
) -> None:
    kubelet = KubeletStub(client)
    dead = f"dead-{secrets.token_hex(3)}"
    await kubelet.register_node(dead, beat=False)
    for name in ("leaving", "staying"):
        await client.create(PODS, pod_manifest(name, ns, node=dead))
    await client.delete(PODS, "leaving", namespace=ns)  # graceful: nobody will finish it
    # An administrator declares the node dead (non-graceful node shutdown).
    await kubelet.post_ready(dead, False)
    await client.patch(
        NODES,
        dead,
        {
            "spec": {
                "taints": [
                    {
                        "key": "node.kubernetes.io/out-of-service",
                        "value": "nodeshutdown",
                        "effect": "NoExecute",
                    }
                ]
            }
        },
    )

    def make(c: APIClient, f: Any, r: Any) -> PodGCController:
        return PodGCController(c, f, r, gc_period=0.2, quarantine=3600)

    try:
        async with controllers_running(client, make, namespace=ns):
            await eventually(lambda: _lacks(client, ns, "leaving"), message="terminating pod force-deleted")
            assert await _names(client, ns) == {"staying"}  # not terminating: the taint manager's business
    finally:
        with contextlib.suppress(NotFoundError):
            await client.delete(NODES, dead)


async def test_hundreds_of_orphans_go_quickly(apiserver: APIServerProcess, ns: str) -> None:
    """500 pods of a node that does not exist are force deleted in parallel, not one by one."""
    count = 500
    ghost = f"ghost-{secrets.token_hex(3)}"
    async with PooledAPIClient(load_kubeconfig(apiserver.kubeconfig), max_connections=64) as pooled:
        slots = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with slots:
                await pooled.create(PODS, pod_manifest(f"orphan-{i}", ns, node=ghost))

        await asyncio.gather(*(create(i) for i in range(count)))
        assert len(await _names(pooled, ns)) == count

        def make(c: APIClient, f: Any, r: Any) -> PodGCController:
            return PodGCController(c, f, r, gc_period=0.2, quarantine=0.3)

        async with controllers_running(pooled, make, namespace=ns) as (gc,):
            await eventually(lambda: gc.deleted > 0, timeout=30, message="the first orphan deleted")
            started = time.monotonic()
            await eventually(
                lambda: _none_left(pooled, ns), timeout=120, interval=0.2, message="every orphan deleted"
            )
            elapsed = time.monotonic() - started
        print(f"\npod GC: {count} orphaned pods force deleted in {elapsed:.1f}s ({count / elapsed:.0f}/s)")
        assert gc.deleted == count


async def _none_left(client: APIClient, ns: str) -> bool:
    return not await _names(client, ns)
