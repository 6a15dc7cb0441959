"""The Docker runtime: a pod is a pause container plus app containers that join it.

How a pod maps onto Docker (see also host-facts in the design notes):

1. **Sandbox** — ``minik/pause`` started with the pod's hostname, a fixed IP on the shared
   pod bridge network (``networking_config`` ``ipv4_address``) and ``ipc_mode=shareable``.
   Docker creates the network, IPC and UTS namespaces *for this container*; the pause
   process only sleeps, so the namespaces live exactly as long as the pod.
2. **App containers** — ``network_mode``/``ipc_mode`` ``container:<pause id>`` (and
   ``pid_mode`` too with ``shareProcessNamespace``): same IP, same port space, localhost
   between them, one /dev/shm. The UTS namespace cannot be *joined* on Docker (a
   ``hostname`` with ``network_mode=container:`` is refused, ``uts_mode=container:`` is
   ignored), but a container joining the sandbox's network gets the sandbox's hostname
   copied in, so ``hostname`` prints the pod name everywhere in the pod. /etc/hosts and
   /etc/resolv.conf are the kubelet's per-pod files, bind-mounted into every container.
3. **Labels** name the pod (uid, namespace, name), the container and its restart count
   (see :mod:`.base`), plus this runtime's *owner labels* (e.g. the node name), so several
   kubelets — or test sessions — can share one Docker engine without adopting each other's
   containers. Docker container names follow upstream's dockershim:
   ``k8s_<container>_<pod>_<namespace>_<uid>_<attempt>``, so ``docker ps`` reads well.

The docker SDK is blocking; every call runs in a thread pool owned by the runtime so the
event loop never waits on Docker. Streams (``logs --follow``, events) run in a thread of
their own each and are closed when the consumer stops iterating.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import re
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import docker
import docker.errors
import docker.types
import docker.utils

from minik.kubelet.images import PAUSE_IMAGE
from minik.kubelet.runtime.base import (
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    LABEL_RESTART_COUNT,
    LABEL_SANDBOX_ID,
    LABEL_TYPE,
    SANDBOX_CONTAINER_NAME,
    TYPE_CONTAINER,
    TYPE_SANDBOX,
    ContainerConfig,
    ContainerNotFound,
    ContainerRuntimeError,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ImagePullError,
    Mount,
    PodSandboxConfig,
    Runtime,
    RuntimeEvent,
)
from minik.kubelet.runtime.docker_network import enable_hairpin, ensure_pod_network

log = logging.getLogger(__name__)
T = TypeVar("T")

_EVENT_ACTIONS = ("create", "start", "die", "oom", "kill", "stop", "destroy", "pause", "unpause")
_EXITED = re.compile(r"Exited \((-?\d+)\)")
_STREAM_END = object()


class DockerRuntime:
    """:class:`~minik.kubelet.runtime.base.Runtime` over a Docker engine."""

    name = "docker"

    def __init__(
        self,
        *,
        network: str,
        owner_labels: Mapping[str, str] | None = None,
        pause_image: str = PAUSE_IMAGE,
        hairpin: bool = True,
        log_max_size: str = "10m",
        base_url: str | None = None,
        workers: int = 32,
        api: docker.APIClient | None = None,
    ) -> None:
        self.network = network
        self.owner_labels = dict(owner_labels or {})
        self.pause_image = pause_image
        self.hairpin = hairpin
        self.log_config = docker.types.LogConfig(
            type="json-file", config={"max-size": log_max_size, "max-file": "2"}
        )
        self.api = api or docker.APIClient(
            base_url=base_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
            version="auto",
            max_pool_size=workers,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")

    # --- plumbing ------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except docker.errors.NotFound as exc:
            raise ContainerNotFound(str(exc.explanation or exc)) from exc
        except docker.errors.APIError as exc:
            raise ContainerRuntimeError(str(exc.explanation or exc)) from exc

    async def _stream(self, open_stream: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Iterate a blocking docker stream in a thread of its own, with backpressure."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
        holder: dict[str, Any] = {}
        stopping = threading.Event()

        def pump() -> None:
            try:
                stream = open_stream()
                holder["stream"] = stream
                if stopping.is_set():  # the consumer left while the stream was opening
                    getattr(stream, "close", lambda: None)()
                    return
                for item in stream:
                    if stopping.is_set():
                        break
                    asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
                result: Any = _STREAM_END
            except BaseException as exc:  # handed to the consumer below
                result = exc
            if not stopping.is_set():
                with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                    asyncio.run_coroutine_threadsafe(queue.put(result), loop).result()

        thread = threading.Thread(target=pump, name="docker-stream", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _STREAM_END:
                    return
                if isinstance(item, docker.errors.NotFound):
                    raise ContainerNotFound(str(item.explanation or item)) from item
                if isinstance(item, docker.errors.APIError):
                    raise ContainerRuntimeError(str(item.explanation or item)) from item
                if isinstance(item, BaseException):
                    raise ContainerRuntimeError(f"docker stream failed: {item}") from item
                yield item
        finally:
            stopping.set()
            stream = holder.get("stream")
            if stream is not None and hasattr(stream, "close"):
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(self._pool, stream.close)
            while not queue.empty():  # unblock a pump waiting on a full queue
                queue.get_nowait()

    def _labels(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {**extra, **self.owner_labels}

    def _owner_filter(self, **more: str) -> list[str]:
        return [f"{k}={v}" for k, v in {**self.owner_labels, **more}.items()]

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.api.close()

    # --- engine, images, volumes, network -------------------------------------------------

    async def version(self) -> str:
        info = await self._call(self.api.version)
        return str(info.get("Version", "unknown"))

    async def ensure_network(self, cidr: str) -> str:
        """Create this runtime's pod network for ``cidr`` if missing (see :mod:`.docker_network`)."""
        return await self._call(ensure_pod_network, self.api, self.network, cidr, labels=self.owner_labels)

    async def image_present(self, image: str) -> bool:
        try:
            await self._call(self.api.inspect_image, image)
        except ContainerNotFound:
            return False
        return True

    async def pull_image(self, image: str) -> None:
        repository, tag = docker.utils.parse_repository_tag(image)
        try:
            await self._call(self.api.pull, repository, tag=tag or "latest")
        except ContainerRuntimeError as exc:
            raise ImagePullError(f'failed to pull image "{image}": {exc}') from exc

    async def ensure_volume(
        self,
        name: str,
        *,
        tmpfs: bool = False,
        size_bytes: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        try:
            await self._call(self.api.inspect_volume, name)
            return
        except ContainerNotFound:
            pass
        opts: dict[str, str] | None = None
        if tmpfs:
            opts = {
                "type": "tmpfs",
                "device": "tmpfs",
                "o": f"size={size_bytes}" if size_bytes else "mode=1777",
            }
            if size_bytes:
                opts["o"] += ",mode=1777"
        await self._call(
            self.api.create_volume, name, driver="local", driver_opts=opts, labels=self._labels(labels or {})
        )

    async def remove_volume(self, name: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            await self._call(self.api.remove_volume, name, force=True)

    async def remove_pod_volumes(self, pod_uid: str) -> None:
        found = await self._call(
            self.api.volumes, filters={"label": self._owner_filter(**{LABEL_POD_UID: pod_uid})}
        )
        for volume in (found or {}).get("Volumes") or []:
            await self.remove_volume(str(volume["Name"]))

    # --- sandbox ---------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig, attempt: int = 0) -> str:
        labels = self._labels(
            {
                **config.labels,
                LABEL_POD_UID: config.uid,
                LABEL_POD_NAME: config.name,
                LABEL_POD_NAMESPACE: config.namespace,
                LABEL_CONTAINER_NAME: SANDBOX_CONTAINER_NAME,
                LABEL_TYPE: TYPE_SANDBOX,
                LABEL_RESTART_COUNT: str(attempt),
            }
        )
        ports = {f"{p.container_port}/{p.protocol.lower()}": (p.host_ip, p.host_port) for p in config.ports}
        host_config = self.api.create_host_config(
            network_mode="host" if config.host_network else self.network,
            ipc_mode="shareable",
            mounts=[*_pod_file_mounts(config, ()), *(_docker_mount(m) for m in config.mounts)],
            port_bindings=ports or None,
            log_config=self.log_config,
        )
        networking = None
        if not config.host_network:
            endpoint = self.api.create_endpoint_config(ipv4_address=config.ip) if config.ip else None
            networking = self.api.create_networking_config({self.network: endpoint} if endpoint else {})
        created = await self._call(
            self.api.create_container,
            self.pause_image,
            name=_docker_name(SANDBOX_CONTAINER_NAME, config, attempt),
            hostname=None if config.host_network else config.hostname,
            labels=labels,
            host_config=host_config,
            networking_config=networking,
            ports=[(p.container_port, p.protocol.lower()) for p in config.ports] or None,
            use_config_proxy=False,
        )
        sandbox_id = str(created["Id"])
        try:
            await self._call(self.api.start, sandbox_id)
            if self.hairpin and not config.host_network:
                attrs = await self._call(self.api.inspect_container, sandbox_id)
                pid = int(attrs["State"].get("Pid") or 0)
                if pid:
                    await asyncio.get_running_loop().run_in_executor(self._pool, enable_hairpin, pid)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.remove_container(sandbox_id)
            raise
        return sandbox_id

    # --- containers ------------------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, sandbox: PodSandboxConfig, config: ContainerConfig
    ) -> str:
        labels = self._labels(
            {
                **config.labels,
                LABEL_POD_UID: sandbox.uid,
                LABEL_POD_NAME: sandbox.name,
                LABEL_POD_NAMESPACE: sandbox.namespace,
                LABEL_CONTAINER_NAME: config.name,
                LABEL_TYPE: TYPE_CONTAINER,
                LABEL_RESTART_COUNT: str(config.restart_count),
                LABEL_SANDBOX_ID: sandbox_id,
            }
        )
        joined = f"container:{sandbox_id}"
        own_targets = tuple(m.target for m in config.mounts)
        host_config = self.api.create_host_config(
            network_mode=joined,
            ipc_mode=joined,
            pid_mode=joined if sandbox.share_process_namespace else None,
            mounts=[*_pod_file_mounts(sandbox, own_targets), *(_docker_mount(m) for m in config.mounts)],
            mem_limit=config.memory_limit_bytes,
            # No swap: the memory limit is the limit, as on a kubelet with swap disabled.
            memswap_limit=config.memory_limit_bytes,
            nano_cpus=config.nano_cpus,
            cpu_shares=config.cpu_shares,
            group_add=list(config.supplemental_groups) or None,
            cap_add=list(config.cap_add) or None,
            cap_drop=list(config.cap_drop) or None,
            read_only=config.read_only_root_filesystem or None,
            privileged=config.privileged,
            security_opt=["no-new-privileges"] if config.no_new_privileges else None,
            log_config=self.log_config,
        )
        created = await self._call(
            self.api.create_container,
            config.image,
            name=_docker_name(config.name, sandbox, config.restart_count),
            entrypoint=list(config.command) if config.command else None,
            command=list(config.args) if config.args else None,
            environment=[f"{k}={v}" for k, v in config.env.items()],
            working_dir=config.working_dir or None,
            user=config.user or None,
            tty=config.tty,
            stdin_open=config.stdin,
            labels=labels,
            host_config=host_config,
            use_config_proxy=False,
        )
        return str(created["Id"])

    async def start_container(self, container_id: str) -> None:
        await self._call(self.api.start, container_id)

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        # Docker sends the image's stop signal (SIGTERM), waits t seconds, then SIGKILL.
        seconds = max(0, math.ceil(grace_period))
        with contextlib.suppress(ContainerNotFound):
            await self._call(self.api.stop, container_id, timeout=seconds)

    async def wait_container(self, container_id: str, timeout: float | None = None) -> int:
        result = await asyncio.wait_for(self._call(self.api.wait, container_id, timeout=None), timeout)
        return int(result.get("StatusCode", -1))

    async def remove_container(self, container_id: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            try:
                await self._call(self.api.remove_container, container_id, v=True, force=True)
            except ContainerRuntimeError as exc:
                if "already in progress" not in str(exc):
                    raise

    async def list_containers(
        self, *, pod_uid: str | None = None, include_exited: bool = True, sandboxes: bool | None = None
    ) -> list[ContainerState]:
        more: dict[str, str] = {}
        if pod_uid is not None:
            more[LABEL_POD_UID] = pod_uid
        if sandboxes is not None:
            more[LABEL_TYPE] = TYPE_SANDBOX if sandboxes else TYPE_CONTAINER
        filters: dict[str, Any] = {"label": [*self._owner_filter(**more), LABEL_POD_UID]}
        items = await self._call(self.api.containers, all=include_exited, filters=filters)
        return [_state_from_summary(item) for item in items]

    async def inspect_container(self, container_id: str) -> ContainerState:
        return _state_from_inspect(await self._call(self.api.inspect_container, container_id))

    # --- logs, exec, stats, events ---------------------------------------------------------

    async def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        timestamps: bool = False,
        since: datetime | None = None,
    ) -> AsyncIterator[bytes]:
        def open_stream() -> Iterator[bytes]:
            return self.api.logs(  # type: ignore[no-any-return]
                container_id,
                stdout=True,
                stderr=True,
                stream=True,
                follow=follow,
                timestamps=timestamps,
                tail="all" if tail is None else max(0, tail),
                since=since,
            )

        async for chunk in self._stream(open_stream):
            yield chunk

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float | None = None
    ) -> ExecResult:
        created = await self._call(
            self.api.exec_create, container_id, list(command), stdout=True, stderr=True
        )
        exec_id = str(created["Id"])
        try:
            output = await asyncio.wait_for(self._call(self.api.exec_start, exec_id, demux=True), timeout)
        except TimeoutError:
            await self._kill_exec(exec_id)
            raise
        stdout, stderr = output if isinstance(output, tuple) else (output, None)
        info = await self._call(self.api.exec_inspect, exec_id)
        code = info.get("ExitCode")
        return ExecResult(
            exit_code=int(code) if code is not None else -1, stdout=stdout or b"", stderr=stderr or b""
        )

    async def _kill_exec(self, exec_id: str) -> None:
        """Docker has no API to stop an exec: kill its process (we share the host PID space)."""
        with contextlib.suppress(Exception):
            info = await self._call(self.api.exec_inspect, exec_id)
            pid = int(info.get("Pid") or 0)
            if pid > 0 and info.get("Running"):
                os.kill(pid, signal.SIGKILL)

    async def stats(self, container_id: str) -> ContainerStats:
        raw = await self._call(self.api.stats, container_id, stream=False, one_shot=True)
        return _stats_from_docker(container_id, raw)

    async def events(self) -> AsyncIterator[RuntimeEvent]:
        filters = {"type": ["container"], "label": self._owner_filter(), "event": list(_EVENT_ACTIONS)}

        def open_stream() -> Iterator[dict[str, Any]]:
            return self.api.events(filters=filters, decode=True)  # type: ignore[no-any-return]

        async for raw in self._stream(open_stream):
            attributes = (raw.get("Actor") or {}).get("Attributes") or {}
            if LABEL_POD_UID not in attributes:
                continue
            code = attributes.get("exitCode")
            yield RuntimeEvent(
                action=str(raw.get("Action") or raw.get("status")),
                container_id=str(raw.get("id") or (raw.get("Actor") or {}).get("ID")),
                pod_uid=attributes[LABEL_POD_UID],
                container_name=attributes.get(LABEL_CONTAINER_NAME, ""),
                is_sandbox=attributes.get(LABEL_TYPE) == TYPE_SANDBOX,
                exit_code=int(code) if code is not None else None,
            )


# --- translation helpers (pure) ------------------------------------------------------------


def _docker_name(container: str, pod: PodSandboxConfig, attempt: int) -> str:
    return f"k8s_{container}_{pod.name}_{pod.namespace}_{pod.uid}_{attempt}"


def _docker_mount(m: Mount) -> docker.types.Mount:
    if m.kind == "tmpfs":
        return docker.types.Mount(m.target, None, type="tmpfs", read_only=m.read_only)
    return docker.types.Mount(m.target, m.source, type=m.kind, read_only=m.read_only)


def _pod_file_mounts(pod: PodSandboxConfig, already: Sequence[str]) -> list[docker.types.Mount]:
    """The pod's /etc/hosts and /etc/resolv.conf, unless the container mounts its own."""
    mounts = []
    for source, target in ((pod.hosts_file, "/etc/hosts"), (pod.resolv_conf, "/etc/resolv.conf")):
        if source and target not in already:
            mounts.append(docker.types.Mount(target, source, type="bind"))
    return mounts


def _parse_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # Nanosecond precision: Python keeps microseconds.
        head, _, rest = value.partition(".")
        digits = re.match(r"\d*", rest)
        tail = rest[digits.end() :] if digits else ""
        frac = (digits.group(0) if digits else "")[:6]
        return datetime.fromisoformat(f"{head}.{frac or '0'}{tail}".replace("Z", "+00:00"))


def _status(docker_status: str) -> ContainerStatus:
    if docker_status in ("running", "paused", "restarting"):
        return "running"
    if docker_status == "created":
        return "created"
    if docker_status in ("exited", "dead", "removing"):
        return "exited"
    return "unknown"


def _common(container_id: str, labels: Mapping[str, str], image: str, image_id: str) -> dict[str, Any]:
    return {
        "id": container_id,
        "pod_uid": labels.get(LABEL_POD_UID, ""),
        "pod_name": labels.get(LABEL_POD_NAME, ""),
        "pod_namespace": labels.get(LABEL_POD_NAMESPACE, ""),
        "container_name": labels.get(LABEL_CONTAINER_NAME, ""),
        "is_sandbox": labels.get(LABEL_TYPE) == TYPE_SANDBOX,
        "restart_count": int(labels.get(LABEL_RESTART_COUNT, "0") or 0),
        "image": image,
        "image_id": image_id,
        "labels": dict(labels),
    }


def _first_ip(networks: Mapping[str, Any] | None) -> str | None:
    for net in (networks or {}).values():
        if net and net.get("IPAddress"):
            return str(net["IPAddress"])
    return None


def _state_from_summary(item: Mapping[str, Any]) -> ContainerState:
    labels = item.get("Labels") or {}
    status = _status(str(item.get("State", "")))
    match = _EXITED.search(str(item.get("Status", "")))
    return ContainerState(
        **_common(str(item["Id"]), labels, str(item.get("Image", "")), str(item.get("ImageID", ""))),
        status=status,
        exit_code=int(match.group(1)) if match else None,
        created_at=datetime.fromtimestamp(int(item.get("Created", 0)), UTC) if item.get("Created") else None,
        ip=_first_ip((item.get("NetworkSettings") or {}).get("Networks")),
    )


def _state_from_inspect(attrs: Mapping[str, Any]) -> ContainerState:
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    status = _status(str(state.get("Status", "")))
    return ContainerState(
        **_common(
            str(attrs["Id"]),
            config.get("Labels") or {},
            str(config.get("Image", "")),
            str(attrs.get("Image", "")),
        ),
        status=status,
        exit_code=int(state["ExitCode"])
        if status == "exited" and state.get("ExitCode") is not None
        else None,
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        created_at=_parse_time(attrs.get("Created")),
        started_at=_parse_time(state.get("StartedAt")),
        finished_at=_parse_time(state.get("FinishedAt")),
        ip=_first_ip((attrs.get("NetworkSettings") or {}).get("Networks")),
        pid=int(state["Pid"]) if state.get("Pid") else None,
    )


def _stats_from_docker(container_id: str, raw: Mapping[str, Any]) -> ContainerStats:
    cpu = ((raw.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0
    memory = raw.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    usage = int(memory.get("usage") or 0)
    # cgroup v1 names its totals total_*; v2 has inactive_file/anon.
    inactive = int(detail.get("total_inactive_file", detail.get("inactive_file", 0)) or 0)
    rss = int(detail.get("total_rss", detail.get("anon", 0)) or 0)
    return ContainerStats(
        id=container_id,
        timestamp=_parse_time(raw.get("read")) or datetime.now(UTC),
        cpu_usage_core_nanoseconds=int(cpu),
        memory_usage_bytes=usage,
        memory_working_set_bytes=max(0, usage - inactive),
        memory_rss_bytes=rss,
    )


if TYPE_CHECKING:  # mypy proves DockerRuntime satisfies the protocol
    _conforms: Runtime = DockerRuntime(network="")
