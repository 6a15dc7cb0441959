"""Test helpers for controller integration tests: a kubelet stand-in and a controller harness.

No Docker here: :class:`KubeletStub` plays every node's kubelet through the API
only — it registers Nodes and their ``kube-node-lease`` Leases, renews the
Leases (the heartbeat the node lifecycle controller watches), writes pod
status (Running, IP, Ready) through ``/status``, finishes graceful deletes of
pods on its live nodes with ``gracePeriodSeconds=0`` (as a kubelet does once
the containers are stopped), and can play the scheduler by binding pending
pods. Stopping a node's heartbeat is "pulling the plug": its pods stay as they
are and their deletes never finish.

:func:`controllers_running` starts controllers in-process against the fixture
API server on one shared informer factory, and stops them afterwards.
:func:`eventually` is ``wait_until`` for async tests: it yields to the event
loop between polls, so the in-process controllers keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from minik.client.errors import AlreadyExistsError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import LEASES, NODES, PODS
from minik.client.objects import Obj, format_micro_time, format_time
from minik.client.rest import APIClient

T = TypeVar("T")
NODE_LEASE_NAMESPACE = "kube-node-lease"
_ips = itertools.count(2)


def next_pod_ip() -> str:
    """A fresh address in 10.244.0.0/16 for a pod (unique per test session)."""
    n = next(_ips)
    return f"10.244.{(n // 250) % 250}.{n % 250 + 2}"


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T | None]],
    timeout: float = ...,
    interval: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def eventually(
    predicate: Callable[[], T | None], timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


async def eventually(
    predicate: Callable[[], Any],
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` (sync or async) until truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        result = predicate()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        last = result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def controllers_running(
    client: APIClient,
    *makers: Callable[[APIClient, SharedInformerFactory, EventRecorder], Any],
    namespace: str | None = None,
) -> AsyncIterator[list[Any]]:
    """Build each controller with ``maker(client, factory, recorder)``, run them, stop them after.

    With ``namespace`` the informers of namespaced resources only see that namespace.
    """
    factory = SharedInformerFactory(client, namespace=namespace)
    recorder = EventRecorder(client, "test-controller-manager")
    controllers = [make(client, factory, recorder) for make in makers]
    factory.start()
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    try:
        await factory.wait_for_sync(timeout=30)
        yield controllers
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await factory.shutdown()
        await recorder.close()


def _ready_condition(ready: bool) -> Obj:
    now = format_time(datetime.now(UTC))
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "stub kubelet",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


class KubeletStub:
    """Plays the kubelet of any number of nodes (see the module docs)."""

    def __init__(self, client: APIClient, *, heartbeat: float = 0.3) -> None:
        self.client = client
        self.heartbeat = heartbeat
        self._beats: dict[str, asyncio.Task[None]] = {}
        self._scheduler: asyncio.Task[None] | None = None

    async def close(self) -> None:
        for name in list(self._beats):
            await self.stop_heartbeat(name)
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler

    # -- nodes -----------------------------------------------------------------------------------

    async def register_node(
        self, name: str, *, labels: dict[str, str] | None = None, beat: bool = True
    ) -> Obj:
        node: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {},
            "status": {
                "conditions": [_ready_condition(True)],
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            },
        }
        created = await self.client.create(NODES, node)
        await self.renew_lease(name)
        if beat:
            self.start_heartbeat(name)
        return created

    async def renew_lease(self, name: str) -> None:
        now = format_micro_time(datetime.now(UTC))
        try:
            lease = await self.client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
        except NotFoundError:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
            }
            with contextlib.suppress(AlreadyExistsError):
                await self.client.create(LEASES, body)
            return
        lease["spec"]["renewTime"] = now
        with contextlib.suppress(ConflictError):
            await self.client.update(LEASES, lease)

    async def post_ready(self, name: str, ready: bool = True) -> None:
        """Write the node's Ready condition, as a kubelet's status update does."""
        node = await self.client.get(NODES, name)
        conditions = [c for c in node["status"].get("conditions") or [] if c.get("type") != "Ready"]
        conditions.append(_ready_condition(ready))
        node["status"]["conditions"] = conditions
        await self.client.update_status(NODES, node)

    def start_heartbeat(self, name: str) -> None:
        if name not in self._beats:
            self._beats[name] = asyncio.create_task(self._beat(name), name=f"kubelet-stub {name}")

    async def stop_heartbeat(self, name: str) -> None:
        task = self._beats.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self, name: str) -> None:
        while True:
            try:
                await self.renew_lease(name)
                node = await self.client.get(NODES, name)
                ready = next(
                    (c for c in node["status"].get("conditions") or [] if c.get("type") == "Ready"), None
                )
                if ready is None or ready.get("status") != "True":
                    await self.post_ready(name, True)  # back from an outage: report Ready again
                await self.finish_deletes(name)
            except NotFoundError:
                pass
            except ConflictError:
                pass
            await asyncio.sleep(self.heartbeat)

    async def finish_deletes(self, node: str) -> None:
        """Complete the graceful deletion of every terminating pod on ``node``."""
        pods = await self.client.list(PODS, field_selector=f"spec.nodeName={node}")
        for pod in pods["items"]:
            if pod["metadata"].get("deletionTimestamp"):
                with contextlib.suppress(NotFoundError, ConflictError):
                    await self.client.delete(
                        PODS,
                        pod["metadata"]["name"],
                        namespace=pod["metadata"]["namespace"],
                        grace_period_seconds=0,
                        preconditions={"uid": pod["metadata"]["uid"]},
                    )

    # -- pods ------------------------------------------------------------------------------------

    async def set_pod_status(
        self, namespace: str, name: str, *, ready: bool = True, ip: str | None = None, phase: str = "Running"
    ) -> Obj:
        """Write the pod's status as a kubelet would (Running, IP, Ready condition)."""
        for _ in range(10):
            pod = await self.client.get(PODS, name, namespace=namespace)
            status = pod.setdefault("status", {})
            pod_ip = ip or status.get("podIP") or next_pod_ip()
            now = format_time(datetime.now(UTC))
            status.update(
                phase=phase,
                podIP=pod_ip,
                podIPs=[{"ip": pod_ip}],
                hostIP="127.0.0.1",
                startTime=status.get("startTime") or now,
            )
            value = "True" if ready and phase == "Running" else "False"
            conditions = [
                c for c in status.get("conditions") or [] if c.get("type") not in ("Ready", "ContainersReady")
            ]
            conditions += [
                {"type": "Ready", "status": value, "lastProbeTime": None, "lastTransitionTime": now},
                {
                    "type": "ContainersReady",
                    "status": value,
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                },
            ]
            status["conditions"] = conditions
            try:
                return await self.client.update_status(PODS, pod)
            except ConflictError:
                continue
        raise AssertionError(f"could not write the status of pod {namespace}/{name}")

    def start_scheduler(self, nodes: Callable[[], list[str]], *, namespace: str) -> None:
        """Bind every pending pod of ``namespace`` to a live node and mark it Running/Ready."""

        async def loop() -> None:
            turn = itertools.count()
            while True:
                try:
                    pods = await self.client.list(PODS, namespace=namespace)
                    live = nodes()
                    for pod in pods["items"]:
                        meta = pod["metadata"]
                        if pod["spec"].get("nodeName") or meta.get("deletionTimestamp") or not live:
                            continue
                        node = live[next(turn) % len(live)]
                        with contextlib.suppress(ConflictError, NotFoundError):
                            await self.client.create_binding(pod, node)
                            await self.set_pod_status(namespace, meta["name"], ready=True)
                except NotFoundError:
                    pass
                await asyncio.sleep(0.1)

        self._scheduler = asyncio.create_task(loop(), name="scheduler-stub")


def pod_manifest(
    name: str,
    namespace: str,
    *,
    labels: dict[str, str] | None = None,
    ports: list[Obj] | None = None,
    node: str | None = None,
    owner: Obj | None = None,
    tolerations: list[Obj] | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
) -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": "busybox", "ports": ports or []}]}
    if node:
        spec["nodeName"] = node
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def owner_ref(obj: Obj, *, controller: bool = True, block: bool = True) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }
