"""The contract between the kubelet and a container runtime (a small CRI).

Upstream's kubelet talks to runtimes through the Container Runtime Interface: first it
asks for a *pod sandbox* — the thing that owns the pod's namespaces and IP — then it
creates and starts the pod's containers *inside* that sandbox. This module is minik's
version of that contract:

- :class:`PodSandboxConfig` / :class:`ContainerConfig` are what the kubelet has already
  decided (resolved env, prepared mounts, limits in bytes and nano-CPUs). A runtime does
  not read pod objects, so it never needs the API server.
- :class:`ContainerState` is what the runtime reports back, for sandboxes and containers
  alike, identified by the labels below. Those labels are the kubelet's only memory across
  restarts: a restarted kubelet lists containers by label and adopts them.
- :class:`Runtime` is the protocol (async: every method may wait on the runtime, none
  blocks the event loop). ``docker.DockerRuntime`` implements it; a fake can too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

# Labels on every sandbox and container (the names upstream's dockershim used).
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_RESTART_COUNT = "io.kubernetes.container.restartCount"
LABEL_TYPE = "io.kubernetes.docker.type"  # TYPE_SANDBOX or TYPE_CONTAINER
LABEL_SANDBOX_ID = "io.kubernetes.sandbox.id"
#: The cluster a container or volume belongs to: ``make up`` and the compose cluster give each
#: kubelet ``--owner-label minik.dev/cluster=<name>``; ``down`` removes what carries it, and it
#: scopes the claims' volume names (all of a cluster's nodes share one Docker host).
LABEL_CLUSTER = "minik.dev/cluster"
TYPE_SANDBOX = "podsandbox"
TYPE_CONTAINER = "container"
SANDBOX_CONTAINER_NAME = "POD"  # the value of LABEL_CONTAINER_NAME on a sandbox


class ContainerRuntimeError(Exception):
    """A runtime operation failed; the message is meant for a pod's status or an Event."""


class ContainerNotFound(ContainerRuntimeError):
    """The container (or sandbox) does not exist (any more)."""


class ImagePullError(ContainerRuntimeError):
    """The image could not be pulled (upstream reason: ErrImagePull)."""


class ImageNotPresent(ContainerRuntimeError):
    """imagePullPolicy Never and the image is not on the node (upstream: ErrImageNeverPull)."""


@dataclass(frozen=True)
class Mount:
    """One mount into a container.

    kind ``bind``: ``source`` is a host path. ``volume``: ``source`` is a runtime volume
    name (created with :meth:`Runtime.ensure_volume`). ``tmpfs``: private to the container.
    """

    target: str
    source: str = ""
    kind: Literal["bind", "volume", "tmpfs"] = "bind"
    read_only: bool = False


@dataclass(frozen=True)
class PortMapping:
    """A hostPort: traffic to ``host_ip:host_port`` on the node goes to the pod's ``container_port``."""

    container_port: int
    host_port: int
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class PodSandboxConfig:
    """Everything the runtime needs to create a pod's sandbox."""

    uid: str
    name: str
    namespace: str
    hostname: str
    ip: str | None = None  # the pod IP on the pod network; None with host_network
    host_network: bool = False
    share_process_namespace: bool = False
    resolv_conf: str | None = None  # host path of the pod's resolv.conf, bind-mounted everywhere
    hosts_file: str | None = None  # host path of the pod's /etc/hosts, bind-mounted everywhere
    ports: tuple[PortMapping, ...] = ()
    # Mounts that must live as long as the pod (e.g. tmpfs volumes) are held by the sandbox.
    mounts: tuple[Mount, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerConfig:
    """One app (or init) container, already resolved by the kubelet."""

    name: str
    image: str
    command: tuple[str, ...] | None = None  # replaces the image's ENTRYPOINT (k8s `command`)
    args: tuple[str, ...] | None = None  # replaces the image's CMD (k8s `args`)
    working_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    memory_limit_bytes: int | None = None
    nano_cpus: int | None = None  # cpu limit: 1 CPU = 1e9
    cpu_shares: int | None = None  # cpu request: 1 CPU = 1024
    user: str | None = None  # "uid" or "uid:gid"
    supplemental_groups: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only_root_filesystem: bool = False
    privileged: bool = False
    no_new_privileges: bool = False
    tty: bool = False
    stdin: bool = False
    restart_count: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


ContainerStatus = Literal["created", "running", "exited", "unknown"]


@dataclass(frozen=True)
class ContainerState:
    """What the runtime knows about one sandbox or container."""

    id: str
    pod_uid: str
    pod_name: str
    pod_namespace: str
    container_name: str  # SANDBOX_CONTAINER_NAME for a sandbox
    is_sandbox: bool
    restart_count: int
    image: str
    status: ContainerStatus
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    image_id: str = ""
    ip: str | None = None  # a sandbox's pod IP
    pid: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class ContainerStats:
    """One sample; CPU is cumulative, so a rate needs two samples (see :func:`cpu_nano_cores`)."""

    id: str
    timestamp: datetime
    cpu_usage_core_nanoseconds: int
    memory_usage_bytes: int
    memory_working_set_bytes: int
    memory_rss_bytes: int


@dataclass(frozen=True)
class RuntimeEvent:
    """A lifecycle change seen in the runtime's event stream (start, die, oom, destroy…)."""

    action: str
    container_id: str
    pod_uid: str
    container_name: str
    is_sandbox: bool
    exit_code: int | None = None


@runtime_checkable
class Runtime(Protocol):
    """What the kubelet needs from a container runtime. All methods are coroutines."""

    name: str  # "docker", "fake": the scheme of containerID, e.g. docker://<id>

    async def version(self) -> str: ...

    async def image_present(self, image: str) -> bool: ...

    async def pull_image(self, image: str) -> None:
        """Pull ``image``; raises :class:`ImagePullError`."""
        ...

    async def ensure_volume(
        self,
        name: str,
        *,
        tmpfs: bool = False,
        size_bytes: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None: ...

    async def remove_volume(self, name: str) -> None: ...

    async def remove_pod_volumes(self, pod_uid: str) -> None:
        """Remove the volumes created for one pod (labelled with its uid), e.g. tmpfs emptyDirs."""
        ...

    async def run_pod_sandbox(self, config: PodSandboxConfig, attempt: int = 0) -> str:
        """Create and start the sandbox (``attempt``: how many sandboxes the pod had before); returns its id."""
        ...

    async def create_container(
        self, sandbox_id: str, sandbox: PodSandboxConfig, config: ContainerConfig
    ) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        """SIGTERM, wait up to ``grace_period`` seconds, then SIGKILL. No error if already stopped."""
        ...

    async def wait_container(self, container_id: str, timeout: float | None = None) -> int:
        """Wait until the container exits; returns its exit code."""
        ...

    async def remove_container(self, container_id: str) -> None:
        """Remove (forcefully); no error if it is already gone. Works for sandboxes too."""
        ...

    async def list_containers(
        self, *, pod_uid: str | None = None, include_exited: bool = True, sandboxes: bool | None = None
    ) -> list[ContainerState]:
        """Sandboxes and containers this runtime instance owns (summary fields only)."""
        ...

    async def inspect_container(self, container_id: str) -> ContainerState:
        """Full state (exit code, OOMKilled, times); raises :class:`ContainerNotFound`."""
        ...

    def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        timestamps: bool = False,
        since: datetime | None = None,
    ) -> AsyncIterator[bytes]: ...

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float | None = None
    ) -> ExecResult: ...

    async def stats(self, container_id: str) -> ContainerStats: ...

    def events(self) -> AsyncIterator[RuntimeEvent]: ...

    async def close(self) -> None: ...


def container_for_logs(
    states: Sequence[ContainerState], pod_uid: str, name: str, *, previous: bool = False
) -> ContainerState | None:
    """The container whose logs ``kubectl logs [--previous]`` means.

    The current one has the highest restart count; ``previous`` is the one before it
    (the kubelet's garbage collection keeps it for exactly this).
    """
    mine = sorted(
        (s for s in states if s.pod_uid == pod_uid and s.container_name == name and not s.is_sandbox),
        key=lambda s: (s.restart_count, s.created_at or datetime.min),
        reverse=True,
    )
    index = 1 if previous else 0
    return mine[index] if len(mine) > index else None


def cpu_nano_cores(earlier: ContainerStats, later: ContainerStats) -> int:
    """CPU usage rate between two samples in nano-cores (1 CPU busy = 1e9), as /stats/summary reports."""
    seconds = (later.timestamp - earlier.timestamp).total_seconds()
    used = later.cpu_usage_core_nanoseconds - earlier.cpu_usage_core_nanoseconds
    return int(used / seconds) if seconds > 0 and used >= 0 else 0
