"""The steps that bring a pod up on a runtime and take it down again.

This is the part of a pod worker that does not need the API server — the worker decides
*when* (pod added, container died, deletion requested), these functions do *what*:

Bring-up (:meth:`PodRunner.create_sandbox`, :meth:`PodRunner.start_container`):

1. an IP from the node's :class:`~minik.kubelet.ipam.IPAM` (none for hostNetwork pods);
2. the pod's directory with its resolv.conf and etc-hosts (:mod:`.podconfig`);
3. its volumes (:mod:`.volumes`);
4. the sandbox — the pause container — with the IP, hostname and tmpfs volumes;
5. for each container: the image (per imagePullPolicy), its environment
   (:mod:`.envvars`) and mounts, then create + start inside the sandbox.
   :meth:`PodRunner.run_pod` runs init containers one after another (each must exit 0)
   and then starts the app containers concurrently.

Tear-down (:meth:`PodRunner.kill_pod`): every app container gets SIGTERM at the same time
and up to the grace period before SIGKILL, then the sandbox stops; everything is removed,
the IP released, the pod's volumes (not its PVCs) and directory deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.kubelet.envvars import container_env
from minik.kubelet.ipam import IPAM
from minik.kubelet.podconfig import container_config, sandbox_config, write_pod_files
from minik.kubelet.runtime.base import (
    ContainerRuntimeError,
    ImageNotPresent,
    PodSandboxConfig,
    Runtime,
)
from minik.kubelet.sources import ObjectSource
from minik.kubelet.volumes import (
    PodVolume,
    container_mounts,
    pod_dir,
    prepare_volumes,
    sandbox_mounts,
    teardown_volumes,
)

log = logging.getLogger(__name__)


class PodStartError(RuntimeError):
    """A step of bringing the pod up failed (the message says which and why)."""


@dataclass(frozen=True)
class NodeConfig:
    """Node-wide settings the pod steps need."""

    root: Path  # the kubelet's directory; pods live in <root>/pods/<uid>
    cluster_dns: tuple[str, ...] = ("10.96.0.10",)
    cluster_domain: str = "cluster.local"
    volume_prefix: str = "minik-"


@dataclass
class PodHandle:
    """What was created for one pod."""

    uid: str
    sandbox_id: str
    ip: str | None
    sandbox: PodSandboxConfig
    volumes: dict[str, PodVolume]
    containers: dict[str, str] = field(default_factory=dict)  # container name -> id


def pull_policy(container: Mapping[str, Any]) -> str:
    """imagePullPolicy, defaulted as upstream: Always for ``:latest`` or no tag, else IfNotPresent."""
    explicit = container.get("imagePullPolicy")
    if explicit:
        return str(explicit)
    image = str(container.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


async def ensure_image(runtime: Runtime, image: str, policy: str) -> None:
    """Make ``image`` available per ``policy``; raises ImagePullError or ImageNotPresent."""
    if policy == "Always":
        await runtime.pull_image(image)
        return
    if await runtime.image_present(image):
        return
    if policy == "Never":
        raise ImageNotPresent(f'container image "{image}" is not present with pull policy of Never')
    await runtime.pull_image(image)


class PodRunner:
    """Runs the bring-up and tear-down steps of pods on one node (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        node: NodeConfig,
        ipam: IPAM | None,
        source: ObjectSource,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.node = node
        self.ipam = ipam
        self.source = source
        self.labels = dict(labels or {})

    async def create_sandbox(self, pod: Mapping[str, Any], *, attempt: int = 0) -> PodHandle:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        spec = pod.get("spec") or {}
        ip: str | None = None
        if not spec.get("hostNetwork"):
            if self.ipam is None:
                raise PodStartError("no IPAM configured for pod networking")
            ip = self.ipam.allocate(uid)
        try:
            directory = pod_dir(self.node.root, uid)
            resolv, hosts = write_pod_files(
                pod, ip, directory, cluster_dns=self.node.cluster_dns, cluster_domain=self.node.cluster_domain
            )
            volumes = await prepare_volumes(
                pod,
                root=self.node.root,
                source=self.source,
                runtime=self.runtime,
                volume_prefix=self.node.volume_prefix,
                labels=self.labels,
            )
            config = sandbox_config(
                pod,
                ip=ip,
                resolv_conf_path=resolv,
                hosts_path=hosts,
                cluster_domain=self.node.cluster_domain,
                mounts=sandbox_mounts(volumes),
            )
            sandbox_id = await self.runtime.run_pod_sandbox(config, attempt=attempt)
        except BaseException:
            if self.ipam is not None and ip is not None:
                self.ipam.release(uid)
            raise
        return PodHandle(uid=uid, sandbox_id=sandbox_id, ip=ip, sandbox=config, volumes=volumes)

    async def create_container(
        self,
        handle: PodHandle,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        *,
        restart_count: int = 0,
        services: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        await ensure_image(self.runtime, str(container["image"]), pull_policy(container))
        pod_with_ip = _with_status_ip(pod, handle.ip)
        env = container_env(pod_with_ip, container, self.source, services=services)
        mounts = container_mounts(container, handle.volumes)
        config = container_config(pod_with_ip, container, env=env, mounts=mounts, restart_count=restart_count)
        container_id = await self.runtime.create_container(handle.sandbox_id, handle.sandbox, config)
        handle.containers[str(container["name"])] = container_id
        return container_id

    async def start_container(
        self,
        handle: PodHandle,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        *,
        restart_count: int = 0,
        services: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        container_id = await self.create_container(
            handle, pod, container, restart_count=restart_count, services=services
        )
        await self.runtime.start_container(container_id)
        return container_id

    async def run_pod(
        self,
        pod: Mapping[str, Any],
        *,
        services: Iterable[Mapping[str, Any]] = (),
        init_timeout: float | None = None,
    ) -> PodHandle:
        """Sandbox, init containers in order (each must exit 0), then all app containers."""
        services = list(services)
        handle = await self.create_sandbox(pod)
        spec = pod.get("spec") or {}
        for init in spec.get("initContainers") or []:
            cid = await self.start_container(handle, pod, init, services=services)
            code = await self.runtime.wait_container(cid, init_timeout)
            if code != 0:
                raise PodStartError(f'init container "{init["name"]}" exited with code {code}')
        await asyncio.gather(
            *(self.start_container(handle, pod, c, services=services) for c in spec.get("containers") or [])
        )
        return handle

    async def kill_pod(self, uid: str, *, grace_period: float = 30.0) -> None:
        """Stop everything of pod ``uid`` (app containers in parallel, then the sandbox) and clean up."""
        states = await self.runtime.list_containers(pod_uid=uid)
        apps = [s for s in states if not s.is_sandbox and s.running]
        await asyncio.gather(*(self.runtime.stop_container(s.id, grace_period) for s in apps))
        for sandbox in (s for s in states if s.is_sandbox and s.running):
            await self.runtime.stop_container(sandbox.id, grace_period)
        errors = []
        for state in states:
            try:
                await self.runtime.remove_container(state.id)
            except ContainerRuntimeError as exc:
                errors.append(f"{state.container_name}: {exc}")
        if self.ipam is not None:
            self.ipam.release(uid)
        with contextlib.suppress(ContainerRuntimeError):
            await teardown_volumes(uid, root=self.node.root, runtime=self.runtime)
        if errors:
            raise ContainerRuntimeError(f"pod {uid}: could not remove " + "; ".join(errors))


def _with_status_ip(pod: Mapping[str, Any], ip: str | None) -> Mapping[str, Any]:
    """The pod with status.podIP filled in (fieldRef status.podIP may be read before status is written)."""
    if ip is None or (pod.get("status") or {}).get("podIP"):
        return pod
    status = {**(pod.get("status") or {}), "podIP": ip, "podIPs": [{"ip": ip}]}
    return {**pod, "status": status}
