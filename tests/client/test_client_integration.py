"""The client machinery against a real minik-apiserver (HTTPS + token, over etcd).

CRUD and error mapping, a raw watch, an informer that syncs and follows
changes, an informer forced into a real 410 Gone and relist, leader election
and event aggregation — all over the wire, exactly as a controller runs them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from minik.client.errors import AlreadyExistsError, APIConnectionError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import Backoff, Informer
from minik.client.kinds import CONFIGMAPS, EVENTS, LEASES, NAMESPACES, PODS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.leaderelection import LeaderElector
from minik.client.rest import APIClient, WatchEvent
from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver

pytestmark = pytest.mark.integration


def cm(name: str, ns: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "t"}},
        "data": data,
    }


async def eventually(
    predicate: Callable[[], bool], timeout: float = 15.0, message: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


async def new_namespace(client: APIClient) -> str:
    name = f"client-{secrets.token_hex(4)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_crud_and_typed_errors(client: APIClient) -> None:
    ns = await new_namespace(client)
    created = await client.create(CONFIGMAPS, cm("a", ns, k="1"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    with pytest.raises(AlreadyExistsError):
        await client.create(CONFIGMAPS, cm("a", ns))

    got = await client.get(CONFIGMAPS, "a", namespace=ns)
    got["data"]["k"] = "2"
    updated = await client.update(CONFIGMAPS, got)
    assert updated["data"] == {"k": "2"}
    got["data"]["k"] = "stale"
    with pytest.raises(ConflictError):
        await client.update(CONFIGMAPS, got)  # carries the old resourceVersion

    patched = await client.patch(CONFIGMAPS, "a", {"data": {"extra": "x"}}, namespace=ns)
    assert patched["data"] == {"k": "2", "extra": "x"}
    patched = await client.patch(
        CONFIGMAPS, "a", [{"op": "remove", "path": "/data/extra"}], namespace=ns, type="json"
    )
    assert patched["data"] == {"k": "2"}

    await client.create(CONFIGMAPS, cm("b", ns))
    listed = await client.list(CONFIGMAPS, namespace=ns, label_selector="app=t")
    assert listed["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["a", "b"]
    paged = await client.list_all(CONFIGMAPS, namespace=ns, page_size=1)
    assert len(paged["items"]) == 2

    await client.delete(CONFIGMAPS, "a", namespace=ns)
    with pytest.raises(NotFoundError):
        await client.get(CONFIGMAPS, "a", namespace=ns)
    with pytest.raises(NotFoundError):
        await client.delete(CONFIGMAPS, "a", namespace=ns)


async def test_watch_streams_changes(client: APIClient) -> None:
    ns = await new_namespace(client)
    rv = (await client.list(CONFIGMAPS, namespace=ns))["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async with client.watch(CONFIGMAPS, namespace=ns, resource_version=rv, timeout_seconds=30) as events:
            async for event_type, obj in events:
                if event_type != "BOOKMARK":
                    seen.append((event_type, obj["metadata"]["name"]))
                if event_type == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, cm("w", ns))
    await client.patch(CONFIGMAPS, "w", {"data": {"a": "b"}}, namespace=ns)
    await client.delete(CONFIGMAPS, "w", namespace=ns)
    await asyncio.wait_for(task, 15)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_informer_syncs_and_follows(client: APIClient) -> None:
    ns = await new_namespace(client)
    await client.create(CONFIGMAPS, cm("a", ns))
    informer = Informer(client, CONFIGMAPS, namespace=ns)
    calls: list[tuple[str, str]] = []
    informer.add_event_handler(
        on_add=lambda o: calls.append(("add", o["metadata"]["name"])),
        on_update=lambda old, new: calls.append(("update", new["metadata"]["name"])),
        on_delete=lambda o: calls.append(("delete", o["metadata"]["name"])),
    )
    informer.start()
    try:
        assert await informer.wait_for_sync(timeout=15)
        assert calls == [("add", "a")]
        await client.create(CONFIGMAPS, cm("b", ns))
        await client.patch(CONFIGMAPS, "a", {"data": {"x": "y"}}, namespace=ns)
        await client.delete(CONFIGMAPS, "b", namespace=ns)
        await eventually(lambda: len(calls) == 4, message="watch events")
        assert calls[1:] == [("add", "b"), ("update", "a"), ("delete", "b")]
        cached = informer.get(f"{ns}/a")
        assert cached is not None and cached["data"] == {"x": "y"}
        assert cached["kind"] == "ConfigMap"
    finally:
        await informer.stop()


class Flaky:
    """Wraps a client so a test can cut the informer's watch and keep it down."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.down = False
        self.cut = asyncio.Event()
        self.refused = 0

    async def list(self, resource: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.client.list(resource, **kwargs)

    def watch(self, resource: Any, **kwargs: Any) -> AsyncGenerator[WatchEvent, None]:
        return self._watch(resource, kwargs)

    async def _watch(self, resource: Any, kwargs: dict[str, Any]) -> AsyncGenerator[WatchEvent, None]:
        if self.down:
            self.refused += 1
            raise APIConnectionError("connection refused (simulated)")
        async with self.client.watch(resource, **kwargs) as stream:
            async for event in stream:
                # The server sends a bookmark every second (--watch-bookmark-interval 1),
                # so a cut takes effect within a second even when nothing changes.
                if self.cut.is_set():
                    raise APIConnectionError("connection reset (simulated)")
                yield event


@pytest.fixture
async def small_cache_server(workdir: Path, etcd_server: Etcd) -> AsyncIterator[APIServerProcess]:
    server = await asyncio.to_thread(launch_apiserver, workdir, etcd_server.url, "--watch-cache-size", "5")
    yield server
    await asyncio.to_thread(_stop, server.process)


async def test_informer_relists_after_real_410_and_emits_the_difference(
    small_cache_server: APIServerProcess,
) -> None:
    async with APIClient(load_kubeconfig(small_cache_server.kubeconfig)) as client:
        ns = await new_namespace(client)
        filler_ns = await new_namespace(client)
        for name in ("a", "b", "c"):
            await client.create(CONFIGMAPS, cm(name, ns))
        flaky = Flaky(client)
        informer = Informer(flaky, CONFIGMAPS, namespace=ns, backoff=Backoff(initial=0.2, maximum=0.5))
        calls: list[tuple[str, str]] = []
        informer.add_event_handler(
            on_add=lambda o: calls.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: calls.append(("update", new["metadata"]["name"])),
            on_delete=lambda o: calls.append(("delete", o["metadata"]["name"])),
        )
        informer.start()
        try:
            assert await informer.wait_for_sync(timeout=15)
            assert sorted(calls) == [("add", "a"), ("add", "b"), ("add", "c")]
            calls.clear()

            flaky.down = True
            flaky.cut.set()  # the stream breaks; reconnects fail while we change things
            await client.patch(CONFIGMAPS, "a", {"data": {"changed": "yes"}}, namespace=ns)
            await client.delete(CONFIGMAPS, "b", namespace=ns)
            await client.create(CONFIGMAPS, cm("d", ns))
            for i in range(12):  # push the informer's resourceVersion out of the 5-entry cache
                await client.create(CONFIGMAPS, cm(f"filler-{i}", filler_ns))
            await eventually(lambda: flaky.refused > 0, message="the informer to notice the cut")
            flaky.cut.clear()
            flaky.down = False

            await eventually(lambda: informer.list_count >= 2, message="a relist after 410 Gone")
            await eventually(lambda: len(calls) >= 3, message="the difference")
            await asyncio.sleep(0.3)
            assert sorted(calls) == [("add", "d"), ("delete", "b"), ("update", "a")]
            assert sorted(informer.store.list_keys()) == [f"{ns}/a", f"{ns}/c", f"{ns}/d"]

            await client.create(CONFIGMAPS, cm("e", ns))  # and it watches on from the new list
            await eventually(lambda: ("add", "e") in calls, message="events after the relist")
        finally:
            await informer.stop()


async def test_leader_election_over_the_wire(client: APIClient) -> None:
    ns = await new_namespace(client)
    a = LeaderElector(client, namespace=ns, name="ctrl", identity="a")
    b = LeaderElector(client, namespace=ns, name="ctrl", identity="b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.try_acquire_or_renew()
    lease = await client.get(LEASES, "ctrl", namespace=ns)
    assert lease["spec"]["holderIdentity"] == "a"
    assert await a.release()
    assert await b.try_acquire_or_renew()
    lease = await client.get(LEASES, "ctrl", namespace=ns)
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1


async def test_leader_run_and_release(client: APIClient) -> None:
    ns = await new_namespace(client)
    leading = asyncio.Event()

    async def work() -> None:
        leading.set()
        await asyncio.Event().wait()

    a = LeaderElector(
        client, namespace=ns, name="ctrl", identity="a", retry_period=0.2, renew_deadline=1, lease_duration=2
    )
    task = asyncio.create_task(a.run(work))
    await asyncio.wait_for(leading.wait(), 15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lease = await client.get(LEASES, "ctrl", namespace=ns)
    assert lease["spec"]["holderIdentity"] in ("", None)


async def test_events_are_written_and_aggregated(client: APIClient) -> None:
    ns = await new_namespace(client)
    target = await client.create(CONFIGMAPS, cm("target", ns))
    recorder = EventRecorder(client, "minik-test", "host-1")
    for _ in range(3):
        recorder.event(target, "Warning", "Broken", "something is wrong")
    recorder.event(target, "Normal", "Fixed", "all good")
    await recorder.close()
    events = (await client.list(EVENTS, namespace=ns))["items"]
    by_reason = {e["reason"]: e for e in events}
    assert set(by_reason) == {"Broken", "Fixed"}
    assert by_reason["Broken"]["count"] == 3
    assert by_reason["Broken"]["involvedObject"]["uid"] == target["metadata"]["uid"]
    assert by_reason["Fixed"]["source"] == {"component": "minik-test", "host": "host-1"}


async def test_create_binding(client: APIClient) -> None:
    ns = await new_namespace(client)
    pod = await client.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    await client.create_binding(pod, "node-1")
    bound = await client.get(PODS, "p", namespace=ns)
    assert bound["spec"]["nodeName"] == "node-1"
    with pytest.raises(ConflictError):
        await client.create_binding(pod, "node-2")
