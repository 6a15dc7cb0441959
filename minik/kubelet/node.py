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
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from minik.client.errors import AlreadyExistsError, APIError, NotFoundError
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
    max_pods: int = 110


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


class NodeAgent:
    """Registers the Node, keeps its status and Lease fresh, finds its pod CIDR."""

    def __init__(self, client: APIClient, settings: NodeSettings, host: HostInfo) -> None:
        self.client = client
        self.settings = settings
        self.host = host
        self.node: dict[str, Any] | None = None
        self.ready = True
        self._last_status_write = 0.0

    async def register(self) -> dict[str, Any]:
        """Create the Node, or adopt an existing one (merging labels, setting podCIDR when given)."""
        desired = node_object(self.settings, self.host)
        try:
            node = await self.client.create(NODES, desired)
        except AlreadyExistsError:
            patch: dict[str, Any] = {"metadata": {"labels": desired["metadata"]["labels"]}}
            current = await self.client.get(NODES, self.settings.name)
            if desired["spec"] and not (current.get("spec") or {}).get("podCIDR"):
                patch["spec"] = desired["spec"]
            node = await self.client.patch(NODES, self.settings.name, patch)
        self.node = node
        await self.update_status(force=True)
        return node

    async def update_status(self, *, force: bool = False) -> None:
        current = await self.client.get(NODES, self.settings.name)
        previous = current.get("status") or {}
        status = node_status(self.settings, self.host, previous, ready=self.ready)
        loop = asyncio.get_running_loop()
        stale = loop.time() - self._last_status_write >= self.settings.status_interval
        if (
            force
            or stale
            or _strip_heartbeats(status) != _strip_heartbeats({k: previous.get(k) for k in status})
        ):
            self.node = await self.client.patch(
                NODES, self.settings.name, {"status": status}, subresource="status"
            )
            self._last_status_write = loop.time()
        else:
            self.node = current

    async def pod_cidr(self, timeout: float | None = None) -> str:
        """``spec.podCIDR``: waits for the node IPAM controller with ``wait_for_pod_cidr``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
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

    async def renew_lease(self) -> None:
        name = self.settings.name
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": self.settings.lease_duration,
            "renewTime": format_micro_time(datetime.now(UTC)),
        }
        try:
            await self.client.patch(LEASES, name, {"spec": spec}, namespace=LEASE_NAMESPACE)
        except NotFoundError:
            owner = (
                [
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "name": name,
                        "uid": (self.node or {}).get("metadata", {}).get("uid", ""),
                    }
                ]
                if self.node
                else []
            )
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": LEASE_NAMESPACE, "ownerReferences": owner},
                "spec": spec,
            }
            with contextlib.suppress(AlreadyExistsError):
                await self.client.create(LEASES, lease, namespace=LEASE_NAMESPACE)

    async def run(self) -> None:
        """Heartbeat forever: Lease every ``lease_interval``, status when changed or stale."""
        while True:
            try:
                await self.renew_lease()
                await self.update_status()
            except (APIError, OSError) as exc:
                log.warning("node %s heartbeat failed: %s", self.settings.name, exc)
            await asyncio.sleep(self.settings.lease_interval)
