"""An in-memory runtime: pods "run" without any container (``--runtime fake``).

For tests of the kubelet's logic and for scale benchmarks (kwok-style: one process can
pretend to be many nodes). It keeps the same records a real runtime would — sandboxes and
containers with labels, states, restart counts — and emits the same events, so a pod
worker cannot tell the difference, except that nothing executes:

- a started container stays ``running`` until stopped (exit code 0) or until a test calls
  :meth:`FakeRuntime.exit_container` to make it die with a code of its choosing;
- ``exec`` answers through an optional handler (default: exit 0, no output);
- logs are whatever a test put in :attr:`FakeRuntime.log_lines`; stats are zeros.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from minik.kubelet.runtime.base import (
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    LABEL_RESTART_COUNT,
    LABEL_TYPE,
    SANDBOX_CONTAINER_NAME,
    TYPE_CONTAINER,
    TYPE_SANDBOX,
    ContainerConfig,
    ContainerNotFound,
    ContainerState,
    ContainerStats,
    ExecResult,
    ImagePullError,
    PodSandboxConfig,
    Runtime,
    RuntimeEvent,
)

ExecHandler = Callable[[ContainerState, Sequence[str]], ExecResult]


class FakeRuntime:
    """:class:`~minik.kubelet.runtime.base.Runtime` that only keeps records."""

    name = "fake"

    def __init__(
        self, *, images: Sequence[str] = (), pullable: bool = True, exec_handler: ExecHandler | None = None
    ) -> None:
        self.containers: dict[str, ContainerState] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.images = set(images)
        self.pullable = pullable
        self.exec_handler = exec_handler
        self.log_lines: dict[str, list[bytes]] = {}
        self._ids = itertools.count(1)
        self._listeners: list[asyncio.Queue[RuntimeEvent]] = []
        self._exited: dict[str, asyncio.Event] = {}

    # --- helpers for tests ---------------------------------------------------------------

    def exit_container(self, container_id: str, exit_code: int, *, oom_killed: bool = False) -> None:
        """Make a running container die, as if its process had exited."""
        self._finish(container_id, exit_code, oom_killed=oom_killed)

    def _emit(self, action: str, state: ContainerState) -> None:
        event = RuntimeEvent(
            action, state.id, state.pod_uid, state.container_name, state.is_sandbox, state.exit_code
        )
        for queue in self._listeners:
            queue.put_nowait(event)

    def _get(self, container_id: str) -> ContainerState:
        try:
            return self.containers[container_id]
        except KeyError:
            raise ContainerNotFound(f"No such container: {container_id}") from None

    def _finish(self, container_id: str, exit_code: int, *, oom_killed: bool = False) -> None:
        state = self._get(container_id)
        if state.status != "running":
            return
        self.containers[container_id] = replace(
            state,
            status="exited",
            exit_code=exit_code,
            oom_killed=oom_killed,
            finished_at=datetime.now(UTC),
            pid=None,
        )
        self._exited.setdefault(container_id, asyncio.Event()).set()
        self._emit("die", self.containers[container_id])

    def _new(self, labels: dict[str, str], image: str, ip: str | None) -> ContainerState:
        container_id = f"fake{next(self._ids):012d}"
        state = ContainerState(
            id=container_id,
            pod_uid=labels[LABEL_POD_UID],
            pod_name=labels[LABEL_POD_NAME],
            pod_namespace=labels[LABEL_POD_NAMESPACE],
            container_name=labels[LABEL_CONTAINER_NAME],
            is_sandbox=labels[LABEL_TYPE] == TYPE_SANDBOX,
            restart_count=int(labels[LABEL_RESTART_COUNT]),
            image=image,
            status="created",
            created_at=datetime.now(UTC),
            ip=ip,
            labels=labels,
        )
        self.containers[container_id] = state
        self._emit("create", state)
        return state

    # --- Runtime -------------------------------------------------------------------------

    async def version(self) -> str:
        return "0.0.0-fake"

    async def image_present(self, image: str) -> bool:
        return image in self.images

    async def pull_image(self, image: str) -> None:
        if not self.pullable:
            raise ImagePullError(f'failed to pull image "{image}": the fake runtime refuses pulls')
        self.images.add(image)

    async def ensure_volume(
        self,
        name: str,
        *,
        tmpfs: bool = False,
        size_bytes: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.volumes.setdefault(name, dict(labels or {}))

    async def remove_volume(self, name: str) -> None:
        self.volumes.pop(name, None)

    async def remove_pod_volumes(self, pod_uid: str) -> None:
        for name in [n for n, labels in self.volumes.items() if labels.get(LABEL_POD_UID) == pod_uid]:
            del self.volumes[name]

    async def run_pod_sandbox(self, config: PodSandboxConfig, attempt: int = 0) -> str:
        labels = {
            **config.labels,
            LABEL_POD_UID: config.uid,
            LABEL_POD_NAME: config.name,
            LABEL_POD_NAMESPACE: config.namespace,
            LABEL_CONTAINER_NAME: SANDBOX_CONTAINER_NAME,
            LABEL_TYPE: TYPE_SANDBOX,
            LABEL_RESTART_COUNT: str(attempt),
        }
        state = self._new(labels, "minik/pause:3.10", config.ip)
        await self.start_container(state.id)
        return state.id

    async def create_container(
        self, sandbox_id: str, sandbox: PodSandboxConfig, config: ContainerConfig
    ) -> str:
        self._get(sandbox_id)
        labels = {
            **config.labels,
            LABEL_POD_UID: sandbox.uid,
            LABEL_POD_NAME: sandbox.name,
            LABEL_POD_NAMESPACE: sandbox.namespace,
            LABEL_CONTAINER_NAME: config.name,
            LABEL_TYPE: TYPE_CONTAINER,
            LABEL_RESTART_COUNT: str(config.restart_count),
        }
        return self._new(labels, config.image, None).id

    async def start_container(self, container_id: str) -> None:
        state = self._get(container_id)
        self.containers[container_id] = replace(state, status="running", started_at=datetime.now(UTC), pid=1)
        self._emit("start", self.containers[container_id])

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        if container_id in self.containers:
            self._finish(container_id, 0)

    async def wait_container(self, container_id: str, timeout: float | None = None) -> int:
        state = self._get(container_id)
        if state.status != "exited":
            await asyncio.wait_for(self._exited.setdefault(container_id, asyncio.Event()).wait(), timeout)
        return self._get(container_id).exit_code or 0

    async def remove_container(self, container_id: str) -> None:
        state = self.containers.pop(container_id, None)
        if state is not None:
            self._emit("destroy", state)

    async def list_containers(
        self, *, pod_uid: str | None = None, include_exited: bool = True, sandboxes: bool | None = None
    ) -> list[ContainerState]:
        return [
            s
            for s in self.containers.values()
            if (pod_uid is None or s.pod_uid == pod_uid)
            and (include_exited or s.running)
            and (sandboxes is None or s.is_sandbox == sandboxes)
        ]

    async def inspect_container(self, container_id: str) -> ContainerState:
        return self._get(container_id)

    async def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        timestamps: bool = False,
        since: datetime | None = None,
    ) -> AsyncIterator[bytes]:
        self._get(container_id)
        lines = self.log_lines.get(container_id, [])
        for line in lines[-tail:] if tail else ([] if tail == 0 else lines):
            yield line

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float | None = None
    ) -> ExecResult:
        state = self._get(container_id)
        if self.exec_handler is not None:
            return self.exec_handler(state, command)
        return ExecResult(0, b"", b"")

    async def stats(self, container_id: str) -> ContainerStats:
        self._get(container_id)
        return ContainerStats(container_id, datetime.now(UTC), 0, 0, 0, 0)

    async def events(self) -> AsyncIterator[RuntimeEvent]:
        queue: asyncio.Queue[RuntimeEvent] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.remove(queue)

    async def close(self) -> None:
        return None


if TYPE_CHECKING:  # mypy proves the fake satisfies the protocol
    _conforms: Runtime = FakeRuntime()
