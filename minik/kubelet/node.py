"""The kubelet's Node: registration, status, and the Lease heartbeat.

A kubelet announces itself by creating (or adopting) its ``Node`` object, then keeps two
signals fresh, as upstream does since Kubernetes 1.17:

- a ``coordination.k8s.io/v1`` **Lease** ``kube-node-lease/<node>`` renewed every
  ``lease_interval`` seconds (10 s by default). It is tiny, so renewing it often is cheap;
  the node lifecycle controller reads ``renewTime`` to decide whether the node is alive.
- the Node's **status** (conditions, capacity, addresses, nodeInfo), written through
  ``nodes/<name>/status`` only when something in it changed — or once per
  ``status_interval`` (5 min upstream; a heartbeat for controllers that only look at the
  conditions' ``lastHeartbeatTime``).

Capacity comes from the container runtime's host (``docker info``: ``NCPU``,
``MemTotal``), so a kubelet in a container reports the engine's machine, not its own
cgroup. Allocatable equals capacity: minik reserves nothing for system daemons.

The pod CIDR: with ``wait_for_pod_cidr`` the kubelet waits until the node IPAM controller
has written ``spec.podCIDR``; otherwise it writes the one it was given by flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from minik.client.errors import AlreadyExistsError, NotFoundError
from minik.client.kinds import LEASES, NODES
from minik.client.objects import format_micro_time, format_time
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.37.0-minik"
LEASE_NAMESPACE = "kube-node-lease"


def primary_ip() -> str:
    """This host's primary IPv4 address: the source address of the default route."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent for a UDP connect
        return str(s.getsockname()[0])
    return "127.0.0.1"


def go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


@dataclass(frozen=True)
class HostInfo:
    """What the runtime's host offers (the Node's capacity and nodeInfo)."""

    cpus: int
    memory_bytes: int
    runtime_version: str  # e.g. docker://20.10.24
    kernel: str = field(default_factory=lambda: platform.release())
    os_image: str = "minik"
    machine_id: str = ""


def local_host_info(runtime_version: str) -> HostInfo:
    """Capacity of this machine (used for the fake runtime)."""
    memory = 0
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    return HostInfo(cpus=os.cpu_count() or 1, memory_bytes=memory, runtime_version=runtime_version)


def docker_host_info(info: Mapping[str, Any], version: str) -> HostInfo:
    """From ``docker info`` (the SDK's ``APIClient.info()``) to :class:`HostInfo`."""
    return HostInfo(
        cpus=int(info.get("NCPU") or os.cpu_count() or 1),
        memory_bytes=int(info.get("MemTotal") or 0),
        runtime_version=f"docker://{version}",
        kernel=str(info.get("KernelVersion") or platform.release()),
        os_image=str(info.get("OperatingSystem") or "minik"),
        machine_id=str(info.get("ID") or ""),
    )


@dataclass
class NodeSettings:
    name: str
    address: str
    port: int
    pod_cidr: str | None = None
    wait_for_pod_cidr: bool = False
    lease_interval: float = 10.0
    lease_duration: int = 40
    status_interval: float = 60.0
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    max_pods: int = 110
    #: Each wait between renewals is ``lease_interval * (1 + rand * lease_jitter)``, as
    #: upstream's ``wait.JitterUntil(renew, interval, 0.04)``.
    lease_jitter: float = 0.04


def node_object(settings: NodeSettings, host: HostInfo) -> dict[str, Any]:
    """The Node a kubelet registers (spec + labels; status is written separately)."""
    labels = {
        "kubernetes.io/hostname": settings.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": go_arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": go_arch(),
        **settings.labels,
    }
    spec: dict[str, Any] = {}
    if settings.pod_cidr and not settings.wait_for_pod_cidr:
        spec = {"podCIDR": settings.pod_cidr, "podCIDRs": [settings.pod_cidr]}
    if settings.taints:
        spec["taints"] = [dict(t) for t in settings.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": settings.name, "labels": labels},
        "spec": spec,
    }


def condition(
    kind: str, status: str, reason: str, message: str, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    now = format_time(datetime.now(UTC))
    changed = previous is None or previous.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now if changed else previous.get("lastTransitionTime", now),  # type: ignore[union-attr]
    }


def node_status(
    settings: NodeSettings, host: HostInfo, previous: Mapping[str, Any] | None, *, ready: bool = True
) -> dict[str, Any]:
    """The Node's full status; conditions keep their transition time when unchanged."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    capacity = {
        "cpu": str(host.cpus),
        "memory": f"{host.memory_bytes // 1024}Ki",
        "pods": str(settings.max_pods),
        "ephemeral-storage": "100Gi",
    }
    conditions = [
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            before.get("MemoryPressure"),
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            before.get("DiskPressure"),
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            before.get("PIDPressure"),
        ),
        condition(
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            "kubelet is posting ready status" if ready else "container runtime is down",
            before.get("Ready"),
        ),
    ]
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": settings.address},
            {"type": "Hostname", "address": settings.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.port}},
        "nodeInfo": {
            "machineID": host.machine_id,
            "systemUUID": host.machine_id,
            "bootID": "",
            "kernelVersion": host.kernel,
            "osImage": host.os_image,
            "containerRuntimeVersion": host.runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    }


def _strip_heartbeats(status: Mapping[str, Any]) -> Any:
    out = dict(status)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or []
    ]
    return out


#: Upstream's lease controller retries a failed renewal after 200 ms, doubling up to 7 s.
RETRY_INITIAL = 0.2
RETRY_MAX = 7.0


def missing_taints(current: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, str]]) -> list[Any]:
    """``current`` plus each of ``wanted`` whose (key, effect) is not there yet."""
    present = {(t.get("key"), t.get("effect")) for t in current}
    return [*current, *(dict(t) for t in wanted if (t.get("key"), t.get("effect")) not in present)]


class NodeAgent:
    """Registers the Node, keeps its status and Lease fresh, finds its pod CIDR.

    ``lease_client`` carries the heartbeats (Lease renewals and node status). A process
    running many nodes gives it a small connection pool of its own, so a flood of pod
    status writes on the main client can never make a node miss its renewals — the
    kubelet's part of what API Priority and Fairness does on the server (``node-high``).
    """

    def __init__(
        self,
        client: APIClient,
        settings: NodeSettings,
        host: HostInfo,
        *,
        lease_client: APIClient | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.lease_client = lease_client or client
        self.settings = settings
        self.host = host
        self.node: dict[str, Any] | None = None
        self.ready = True
        self._last_status_write = 0.0
        self._lease_exists = False
        #: True after a failed heartbeat: the node lifecycle controller may have marked
        #: the node Unknown meanwhile, so the next status check reads the live Node.
        self._suspect = False
        self._rng = rng or random.Random()
        self._clock = clock
        #: When the last renewal succeeded (``clock`` seconds), to notice a stall.
        self._last_renewal: float | None = None
        #: Renewals that succeeded (for tests and the debug log).
        self.renewals = 0

    async def register(self) -> dict[str, Any]:
        """Create the Node, or adopt an existing one (merging labels and taints, setting
        podCIDR when given)."""
        desired = node_object(self.settings, self.host)
        try:
            node = await self.client.create(NODES, desired)
        except AlreadyExistsError:
            patch: dict[str, Any] = {"metadata": {"labels": desired["metadata"]["labels"]}}
            current = await self.client.get(NODES, self.settings.name)
            spec = current.get("spec") or {}
            wanted: dict[str, Any] = {}
            if desired["spec"].get("podCIDR") and not spec.get("podCIDR"):
                wanted.update(podCIDR=desired["spec"]["podCIDR"], podCIDRs=desired["spec"]["podCIDRs"])
            taints = missing_taints(spec.get("taints") or [], self.settings.taints)
            if taints != (spec.get("taints") or []):
                wanted["taints"] = taints
            if wanted:
                patch["spec"] = wanted
            node = await self.client.patch(NODES, self.settings.name, patch)
        self.node = node
        await self.update_status(force=True)
        return node

    async def update_status(self, *, force: bool = False) -> None:
        """Write the status when it changed, or once per ``status_interval``.

        "Changed" is judged against the last Node this agent wrote or read, not a fresh
        GET: a thousand nodes checking every ten seconds would otherwise cost a hundred
        GETs a second for nothing. After a failed heartbeat the live Node is read first.
        """
        if self.node is None or self._suspect:
            self.node = await self.lease_client.get(NODES, self.settings.name)
            self._suspect = False
        previous = self.node.get("status") or {}
        status = node_status(self.settings, self.host, previous, ready=self.ready)
        loop = asyncio.get_running_loop()
        stale = loop.time() - self._last_status_write >= self.settings.status_interval
        if (
            force
            or stale
            or _strip_heartbeats(status) != _strip_heartbeats({k: previous.get(k) for k in status})
        ):
            self.node = await self.lease_client.patch(
                NODES, self.settings.name, {"status": status}, subresource="status"
            )
            self._last_status_write = loop.time()

    async def pod_cidr(self, timeout: float | None = None) -> str:
        """``spec.podCIDR``: waits for the node IPAM controller with ``wait_for_pod_cidr``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        node = self.node
        while True:
            if node is None:
                node = await self.client.get(NODES, self.settings.name)
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr:
                return str(cidr)
            if not self.settings.wait_for_pod_cidr:
                if self.settings.pod_cidr:
                    return self.settings.pod_cidr
                raise RuntimeError("no pod CIDR: pass --pod-cidr or --wait-for-pod-cidr")
            if deadline is not None and loop.time() > deadline:
                raise TimeoutError(f"node {self.settings.name} got no spec.podCIDR within {timeout}s")
            log.info("waiting for spec.podCIDR of node %s", self.settings.name)
            await asyncio.sleep(1.0)
            node = None

    def _lease(self, spec: dict[str, Any]) -> dict[str, Any]:
        name = self.settings.name
        uid = (self.node or {}).get("metadata", {}).get("uid", "")
        owner = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}] if uid else []
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": LEASE_NAMESPACE, "ownerReferences": owner},
            "spec": spec,
        }

    async def renew_lease(self) -> None:
        """One renewal: PATCH ``renewTime``; the first one creates the Lease (one request
        per new node instead of a 404 and a create)."""
        name = self.settings.name
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": self.settings.lease_duration,
            "renewTime": format_micro_time(datetime.now(UTC)),
        }
        if not self._lease_exists:
            try:
                await self.lease_client.create(LEASES, self._lease(spec), namespace=LEASE_NAMESPACE)
                self._lease_exists = True
                self._renewed()
                return
            except AlreadyExistsError:
                self._lease_exists = True
        try:
            await self.lease_client.patch(LEASES, name, {"spec": spec}, namespace=LEASE_NAMESPACE)
        except NotFoundError:
            self._lease_exists = False  # deleted under us: the next attempt creates it
            raise
        self._renewed()

    def _renewed(self) -> None:
        """Count a renewal; after a silence longer than the lease, distrust the cached Node.

        A stall (a paused process, a blocked loop, a suspended machine) raises no error,
        yet the node lifecycle controller may have marked the node Unknown meanwhile. The
        cached Node still says Ready, so without a fresh read nothing would look changed
        and the true status would wait for the next periodic write.
        """
        now = self._clock()
        if self._last_renewal is not None and now - self._last_renewal > self.settings.lease_duration:
            log.warning(
                "node %s: no renewal for %.0fs (the lease lasts %ds); re-reading the Node",
                self.settings.name,
                now - self._last_renewal,
                self.settings.lease_duration,
            )
            self._suspect = True
        self._last_renewal = now
        self.renewals += 1

    def next_renewal_in(self) -> float:
        """Seconds to the next renewal: the interval stretched by up to ``lease_jitter``."""
        return self.settings.lease_interval * (1.0 + self.settings.lease_jitter * self._rng.random())

    async def run(self, *, spread: bool = False) -> None:
        """Heartbeat forever: Lease every ``lease_interval`` (jittered), status when changed
        or stale.

        ``spread`` makes the wait after the first renewal a random part of one interval,
        so the nodes of one process renew evenly over the interval instead of in step. A
        failed renewal is retried after 200 ms, doubling up to 7 s (upstream's lease
        controller); no exception ends the loop but cancellation.
        """
        retry = RETRY_INITIAL
        first = True
        while True:
            try:
                await self.renew_lease()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._suspect = True
                log.warning(
                    "node %s: lease renewal failed (%s); retrying in %.1fs", self.settings.name, exc, retry
                )
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX)
                continue
            retry = RETRY_INITIAL
            try:
                await self.update_status()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._suspect = True
                log.warning("node %s: status update failed: %s", self.settings.name, exc)
            if first and spread:
                # After the first renewal, a random part of one interval: from then on
                # the nodes' renewals are spread evenly, whenever each registered.
                await asyncio.sleep(self._rng.uniform(0, self.settings.lease_interval))
            else:
                await asyncio.sleep(self.next_renewal_in())
            first = False
