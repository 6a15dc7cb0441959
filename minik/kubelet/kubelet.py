"""The kubelet's control loop: one worker per pod, driven by the API, Docker and a relist.

Inputs, all of which only *wake* a pod's worker (level-triggered, like everything here):

- the pod informer, which lists and watches only this node's pods
  (``fieldSelector=spec.nodeName=<node>``);
- the runtime's event stream (a container of the pod started, died, was OOM-killed);
- probe verdicts (readiness changed, liveness asked for a kill);
- ConfigMap/Secret changes (projected volumes are rewritten);
- a periodic relist (``relist_period``) that wakes every worker and removes containers of
  pods the API no longer knows — the repair path for anything the events missed.

A :class:`PodWorker` is one asyncio task per pod UID. It holds the pod's latest object
and runs :meth:`Kubelet.sync_pod` whenever woken, so one pod's steps never interleave
while different pods progress in parallel. ``sync_pod`` compares what should run with
what Docker says runs and acts:

1. deletionTimestamp set → :meth:`Kubelet.terminate`: preStop hooks, SIGTERM, up to the
   grace period, SIGKILL, remove everything, release the IP, then finish the delete
   (``DELETE`` with ``gracePeriodSeconds=0`` and a UID precondition);
2. no running sandbox → create one (first start, or the pause container died);
   a running sandbox the worker does not know → adopt it (kubelet restart);
3. init containers in order, each must exit 0 before the next starts;
4. app containers: start what never ran, restart what exited per ``restartPolicy`` with
   CrashLoopBackOff back-off (``base`` doubling up to ``max``; upstream 10 s → 5 min),
   kill what the liveness probe condemned;
5. compute the status (:mod:`.status`) and write it through ``pods/<name>/status`` only
   when it changed;
6. garbage-collect: keep the newest two containers of each name (the current one and
   the previous one for ``logs --previous``).

Restart safety comes from the labels: a restarted kubelet lists the containers, its
workers find running sandboxes and containers and adopt them; nothing healthy restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from minik.client.errors import APIConnectionError, APIError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import Informer
from minik.client.kinds import PODS
from minik.client.rest import APIClient
from minik.kubelet.envvars import EnvError
from minik.kubelet.ipam import IPAMError
from minik.kubelet.nodepods import PodCache
from minik.kubelet.podconfig import PodConfigError, sandbox_config, write_pod_files
from minik.kubelet.pods import PodHandle, PodRunner, PodStartError
from minik.kubelet.probes import ContainerProber, KillCallback, ResultCallback, resolve_port
from minik.kubelet.runtime.base import (
    ContainerRuntimeError,
    ContainerState,
    ImageNotPresent,
    ImagePullError,
)
from minik.kubelet.sources import ObjectSource
from minik.kubelet.status import PodFacts, history, now_rfc3339, pod_status, same_status
from minik.kubelet.volumes import VolumeError, pod_dir, prepare_volumes, refresh_projected, sandbox_mounts

log = logging.getLogger(__name__)

READY_ANNOTATION = "minik.dev/ready"
SYNC_RETRY_MAX = 30.0


@dataclass
class KubeletConfig:
    node_name: str
    host_ip: str
    crashloop_base: float = 10.0
    crashloop_max: float = 300.0
    relist_period: float = 10.0
    fake: bool = False  # readiness from the minik.dev/ready annotation, no probes
    default_grace: float = 30.0


@dataclass
class _Backoff:
    delay: float
    until: datetime


class PodWorker:
    """One pod's serialized worker (see the module docstring)."""

    def __init__(self, kubelet: Kubelet, uid: str, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.uid = uid
        self.pod: dict[str, Any] | None = pod
        self.last_pod: dict[str, Any] = pod
        self.wake = asyncio.Event()
        self.wake.set()
        self.deadline: float | None = None
        self.done = False
        self.handle: PodHandle | None = None
        self.waiting: dict[str, tuple[str, str]] = {}
        self.backoff: dict[str, _Backoff] = {}
        self.probers: dict[str, ContainerProber] = {}  # container id -> prober
        self.ready: dict[str, bool] = {}
        self.started: dict[str, bool] = {}
        self.kill_requests: dict[str, str] = {}  # container id -> reason
        self.failed_reason: str | None = None
        self.start_time: str | None = (pod.get("status") or {}).get("startTime")
        self.last_written: dict[str, Any] | None = None
        self.task: asyncio.Task[None] | None = None
        self.failures = 0  # consecutive failed syncs

    def poke(self, delay: float | None = None) -> None:
        if delay is None:
            self.wake.set()
            return
        at = asyncio.get_running_loop().time() + delay
        if self.deadline is None or at < self.deadline:
            self.deadline = at

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.done:
            timeout = None if self.deadline is None else max(0.0, self.deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
            self.wake.clear()
            self.deadline = None
            try:
                await self.kubelet.sync_pod(self)
                self.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Retried with back-off (1 s doubling to 30 s): a busy API server gets
                # fewer requests from a thousand failing workers, not more.
                self.failures += 1
                delay = min(SYNC_RETRY_MAX, 2.0 ** (self.failures - 1))
                log.warning(
                    "sync of pod %s failed (retrying in %.0fs): %s",
                    self.uid,
                    delay,
                    exc,
                    exc_info=not isinstance(exc, APIError | APIConnectionError | ContainerRuntimeError),
                )
                self.poke(delay)
        self.stop_probers()
        self.kubelet.workers.pop(self.uid, None)

    def stop_probers(self, keep: set[str] | None = None) -> None:
        for cid in list(self.probers):
            if keep is None or cid not in keep:
                self.probers.pop(cid).stop()


@dataclass
class Kubelet:
    """A node's pod lifecycle (the module docstring has the whole story)."""

    client: APIClient
    runner: PodRunner
    config: KubeletConfig
    pods: PodCache
    services: Informer | None = None
    recorder: EventRecorder | None = None
    workers: dict[str, PodWorker] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.runner.runtime

    # --- wiring ---------------------------------------------------------------------------

    async def start(self, *, sync_timeout: float = 60.0) -> None:
        self.pods.add_event_handler(
            on_add=self._on_pod, on_update=lambda _o, n: self._on_pod(n), on_delete=self._on_pod_delete
        )
        if not self.pods.running:
            self.pods.start()
        if not await self.pods.wait_for_sync(sync_timeout):
            raise TimeoutError("pod informer did not sync")
        await self.adopt()
        self._tasks.append(
            asyncio.create_task(self._events(), name=f"kubelet-events-{self.config.node_name}")
        )
        self._tasks.append(
            asyncio.create_task(self._relist_loop(), name=f"kubelet-relist-{self.config.node_name}")
        )

    async def stop(self) -> None:
        """Stop the loops and workers; containers keep running (a restarted kubelet adopts them)."""
        await self.pods.stop()
        for task in self._tasks:
            task.cancel()
        workers = list(self.workers.values())
        for w in workers:
            w.stop_probers()
            if w.task:
                w.task.cancel()
        await asyncio.gather(*self._tasks, *(w.task for w in workers if w.task), return_exceptions=True)
        self._tasks.clear()

    def _on_pod(self, pod: dict[str, Any]) -> None:
        uid = str(pod["metadata"]["uid"])
        worker = self.workers.get(uid)
        if worker is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and not pod["metadata"].get(
                "deletionTimestamp"
            ):
                pass  # a finished pod still gets a worker: it may need its deletion finished later
            worker = PodWorker(self, uid, pod)
            self.workers[uid] = worker
            worker.task = asyncio.create_task(worker.run(), name=f"pod-{pod['metadata'].get('name')}")
        worker.pod = pod
        worker.last_pod = pod
        worker.wake.set()

    def _on_pod_delete(self, pod: dict[str, Any]) -> None:
        worker = self.workers.get(str(pod["metadata"]["uid"]))
        if worker is not None:
            worker.pod = None
            worker.wake.set()

    def wake_all(self) -> None:
        for w in self.workers.values():
            w.wake.set()

    def on_object_changed(self, obj: Mapping[str, Any]) -> None:
        """A ConfigMap or Secret changed: wake the workers of pods in its namespace."""
        ns = (obj.get("metadata") or {}).get("namespace")
        for w in self.workers.values():
            if w.pod is not None and w.pod["metadata"].get("namespace") == ns:
                w.wake.set()

    async def _events(self) -> None:
        while True:
            try:
                async for event in self.runtime.events():
                    worker = self.workers.get(event.pod_uid)
                    if worker is not None:
                        worker.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("runtime event stream broke (%s); reconnecting", exc)
            await asyncio.sleep(1.0)

    async def _relist_loop(self) -> None:
        # A random first wait: a process running many nodes spreads their relists in time.
        await asyncio.sleep(random.uniform(0, self.config.relist_period))
        while True:
            try:
                await self.relist()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relist failed: %s", exc)
            await asyncio.sleep(self.config.relist_period)

    async def relist(self) -> None:
        """Wake every worker; remove containers of pods that have no worker.

        The fake runtime has no drift to repair — nothing changes in it without an event —
        so fake nodes skip the wake-up: with 30,000 pods it would be 3,000 syncs a second
        that find nothing to do.
        """
        if not self.config.fake:
            self.wake_all()
        states = await self.runtime.list_containers()
        orphans = {s.pod_uid for s in states} - set(self.workers)
        for uid in orphans:
            log.info("removing containers of pod %s, which no longer exists", uid)
            await self.runner.kill_pod(uid, grace_period=2)

    async def adopt(self) -> None:
        """After a (re)start: reconcile the IPAM with running sandboxes, drop orphans."""
        states = await self.runtime.list_containers()
        if self.runner.ipam is not None:
            live = {s.pod_uid: s.ip for s in states if s.is_sandbox and s.running and s.ip}
            known = {str(p["metadata"]["uid"]) for p in self.pods.list()}
            self.runner.ipam.reconcile(live, in_flight=known & set(self.workers))
        await self.relist()

    # --- one pod --------------------------------------------------------------------------

    async def sync_pod(self, w: PodWorker) -> None:
        pod = w.pod
        if pod is None:
            grace = float((w.last_pod.get("spec") or {}).get("terminationGracePeriodSeconds", 0) or 0)
            w.stop_probers()
            await self.runner.kill_pod(w.uid, grace_period=min(grace, 2.0))
            w.done = True
            return
        if pod["metadata"].get("deletionTimestamp"):
            await self.terminate(w, pod)
            return
        if w.start_time is None:
            w.start_time = now_rfc3339()
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        states = await self.runtime.list_containers(pod_uid=w.uid)
        phase = (pod.get("status") or {}).get("phase")
        terminal = phase in ("Succeeded", "Failed") or w.failed_reason is not None
        changed = False
        if not terminal:
            changed = await self._ensure_sandbox(w, pod, states)
            if changed:
                states = await self.runtime.list_containers(pod_uid=w.uid)
        if w.handle is None:
            await self._write_status(w, pod, states, init_done=False)
            return
        if self.source_has_projected(pod):
            await asyncio.to_thread(
                refresh_projected, pod, root=self.runner.node.root, source=self.runner.source
            )
        await self._kill_condemned(w, pod, states)
        init_done = True
        if not terminal:
            init_done, acted = await self._sync_init(w, pod, states, policy)
            if init_done:
                results = await asyncio.gather(
                    *(self._sync_container(w, pod, c, states, policy) for c in spec.get("containers") or [])
                )
                acted = acted or any(results)
            if acted:
                states = await self.runtime.list_containers(pod_uid=w.uid)
        else:
            init_done = all(
                (h := history(states, str(c["name"]))) and h[0].exit_code == 0
                for c in spec.get("initContainers") or []
            )
        self._ensure_probers(w, pod, states)
        await self._write_status(w, pod, states, init_done=init_done)
        await self._gc(states)

    @staticmethod
    def source_has_projected(pod: Mapping[str, Any]) -> bool:
        return any(
            any(k in v for k in ("configMap", "secret", "projected", "downwardAPI"))
            for v in (pod.get("spec") or {}).get("volumes") or []
        )

    async def _ensure_sandbox(
        self, w: PodWorker, pod: Mapping[str, Any], states: list[ContainerState]
    ) -> bool:
        sandboxes = sorted(
            (s for s in states if s.is_sandbox),
            key=lambda s: s.created_at or datetime.min.replace(tzinfo=UTC),
        )
        running = [s for s in sandboxes if s.running]
        if running:
            current = running[-1]
            if w.handle is None or w.handle.sandbox_id != current.id:
                w.handle = await self._adopt_handle(pod, current)
            return False
        # No running sandbox: first start, or the pause container died (then every app
        # container goes too, as upstream does, and the pod starts over in a new sandbox).
        if sandboxes:
            apps = [s for s in states if not s.is_sandbox and s.running]
            await asyncio.gather(*(self.runtime.stop_container(s.id, 0) for s in apps))
            for s in sandboxes:
                await self.runtime.remove_container(s.id)
            w.handle = None
        try:
            w.handle = await self.runner.create_sandbox(pod, attempt=len(sandboxes))
        except (ContainerRuntimeError, IPAMError, PodConfigError, VolumeError, PodStartError, OSError) as exc:
            reason = "FailedCreatePodSandBox"
            for c in (pod.get("spec") or {}).get("containers") or []:
                w.waiting[str(c["name"])] = ("ContainerCreating", f"{reason}: {exc}")
            self._event(pod, "Warning", reason, f"Failed to create pod sandbox: {exc}")
            w.poke(2.0)
            return False
        for name, (reason, _) in list(w.waiting.items()):
            if reason == "ContainerCreating":
                del w.waiting[name]
        return True

    async def _adopt_handle(self, pod: Mapping[str, Any], sandbox: ContainerState) -> PodHandle:
        node = self.runner.node
        uid = str(pod["metadata"]["uid"])
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        ip = (
            None
            if host_network
            else (sandbox.ip or (self.runner.ipam.get(uid) if self.runner.ipam else None))
        )
        directory = pod_dir(node.root, uid)
        resolv, hosts = directory / "resolv.conf", directory / "etc-hosts"
        if not resolv.exists() or not hosts.exists():
            resolv, hosts = write_pod_files(
                pod, ip, directory, cluster_dns=node.cluster_dns, cluster_domain=node.cluster_domain
            )
        volumes = await prepare_volumes(
            pod,
            root=node.root,
            source=self.runner.source,
            runtime=self.runtime,
            volume_prefix=node.volume_prefix,
            labels=self.runner.labels,
        )
        config = sandbox_config(
            pod,
            ip=ip,
            resolv_conf_path=resolv,
            hosts_path=hosts,
            cluster_domain=node.cluster_domain,
            mounts=sandbox_mounts(volumes),
        )
        return PodHandle(uid=uid, sandbox_id=sandbox.id, ip=ip, sandbox=config, volumes=volumes)

    def _services(self) -> list[Mapping[str, Any]]:
        return list(self.services.list()) if self.services is not None else []

    async def _start(
        self,
        w: PodWorker,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        restart_count: int,
        stale: list[ContainerState],
    ) -> bool:
        """Create + start one container; failures become waiting reasons. True if it started."""
        assert w.handle is not None
        name = str(container["name"])
        for s in stale:  # created but never started, e.g. after a failed start
            await self.runtime.remove_container(s.id)
        try:
            await self.runner.start_container(
                w.handle, pod, container, restart_count=restart_count, services=self._services()
            )
        except ImagePullError as exc:
            w.waiting[name] = ("ErrImagePull", str(exc))
            self._arm_backoff(w, f"image/{name}")
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{container.get("image")}": {exc}')
            return False
        except ImageNotPresent as exc:
            w.waiting[name] = ("ErrImageNeverPull", str(exc))
            w.poke(5.0)
            return False
        except (EnvError, PodConfigError, VolumeError) as exc:
            w.waiting[name] = ("CreateContainerConfigError", str(exc))
            self._event(pod, "Warning", "Failed", f"Error: {exc}")  # upstream's words
            w.poke(2.0)
            return False
        except ContainerRuntimeError as exc:
            w.waiting[name] = ("RunContainerError", str(exc))
            self._arm_backoff(w, name)
            return False
        w.waiting.pop(name, None)
        self._event(pod, "Normal", "Started", f"Started container {name}")
        return True

    def _arm_backoff(self, w: PodWorker, key: str, since: datetime | None = None) -> None:
        now = since or datetime.now(UTC)
        entry = w.backoff.get(key)
        delay = (
            self.config.crashloop_base if entry is None else min(entry.delay * 2, self.config.crashloop_max)
        )
        w.backoff[key] = _Backoff(delay, now)
        w.poke(delay)

    def _in_backoff(self, w: PodWorker, key: str, since: datetime | None) -> float:
        """Seconds left of ``key``'s back-off, counted from ``since`` (the last exit)."""
        entry = w.backoff.get(key)
        if entry is None:
            return 0.0
        start = max(entry.until, since) if since else entry.until
        left = entry.delay - (datetime.now(UTC) - start).total_seconds()
        return max(0.0, left)

    async def _restart_or_wait(
        self, w: PodWorker, pod: Mapping[str, Any], container: Mapping[str, Any], latest: ContainerState
    ) -> bool:
        name = str(container["name"])
        finished = latest.finished_at
        if finished is not None and finished.tzinfo is None:
            finished = finished.replace(tzinfo=UTC)
        if name in w.backoff:
            left = self._in_backoff(w, name, finished)
            if left > 0:
                w.waiting[name] = (
                    "CrashLoopBackOff",
                    f"back-off {w.backoff[name].delay:g}s restarting failed container={name} pod={pod['metadata']['name']}_{pod['metadata'].get('namespace')}({w.uid})",
                )
                w.poke(left + 0.05)
                return False
        image_key = f"image/{name}"
        if (
            w.waiting.get(name, ("",))[0] in ("ErrImagePull", "ImagePullBackOff")
            and self._in_backoff(w, image_key, None) > 0
        ):
            w.waiting[name] = ("ImagePullBackOff", w.waiting[name][1])
            return False
        self._arm_backoff(w, name, finished)
        w.deadline = None
        if latest.exit_code != 0:
            self._event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name}")
        return await self._start(w, pod, container, latest.restart_count + 1, [])

    async def _sync_init(
        self, w: PodWorker, pod: Mapping[str, Any], states: list[ContainerState], policy: str
    ) -> tuple[bool, bool]:
        """(all init containers done, did something)."""
        for init in (pod.get("spec") or {}).get("initContainers") or []:
            name = str(init["name"])
            mine = history(states, name)
            latest = mine[0] if mine else None
            if latest is None or latest.status == "created":
                if (
                    name in w.waiting
                    and w.waiting[name][0] in ("ErrImagePull", "ImagePullBackOff")
                    and self._in_backoff(w, f"image/{name}", None) > 0
                ):
                    w.waiting[name] = ("ImagePullBackOff", w.waiting[name][1])
                    return False, False
                return False, await self._start(
                    w,
                    pod,
                    init,
                    0 if latest is None else latest.restart_count,
                    [s for s in mine if s.status == "created"],
                )
            if latest.running:
                return False, False
            if latest.exit_code == 0:
                continue
            if policy == "Never":
                w.failed_reason = f'init container "{name}" failed with exit code {latest.exit_code}'
                return False, False
            return False, await self._restart_or_wait(w, pod, init, latest)
        return True, False

    async def _sync_container(
        self,
        w: PodWorker,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        states: list[ContainerState],
        policy: str,
    ) -> bool:
        name = str(container["name"])
        mine = history(states, name)
        latest = mine[0] if mine else None
        if latest is None or latest.status == "created":
            if w.waiting.get(name, ("",))[0] in ("ErrImagePull", "ImagePullBackOff", "RunContainerError"):
                key = f"image/{name}" if w.waiting[name][0] != "RunContainerError" else name
                left = self._in_backoff(w, key, None)
                if left > 0:
                    if w.waiting[name][0] == "ErrImagePull":
                        w.waiting[name] = ("ImagePullBackOff", w.waiting[name][1])
                    w.poke(left + 0.05)
                    return False
            return await self._start(
                w,
                pod,
                container,
                0 if latest is None else latest.restart_count,
                [s for s in mine if s.status == "created"],
            )
        if latest.running:
            w.waiting.pop(name, None)
            return False
        if latest.status != "exited":
            return False
        if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0):
            return await self._restart_or_wait(w, pod, container, latest)
        return False

    async def _kill_condemned(
        self, w: PodWorker, pod: Mapping[str, Any], states: list[ContainerState]
    ) -> None:
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", self.config.default_grace))
        running = {s.id for s in states if s.running}
        for cid, reason in list(w.kill_requests.items()):
            del w.kill_requests[cid]
            if cid in running:
                self._event(pod, "Normal", "Killing", reason)
                await self.runtime.stop_container(cid, grace)

    def _ensure_probers(self, w: PodWorker, pod: Mapping[str, Any], states: list[ContainerState]) -> None:
        if self.config.fake:
            return
        live: set[str] = set()
        ip = w.handle.ip if w.handle else None
        if (pod.get("spec") or {}).get("hostNetwork"):
            ip = "127.0.0.1"
        for container in (pod.get("spec") or {}).get("containers") or []:
            if not any(k in container for k in ("readinessProbe", "livenessProbe", "startupProbe")):
                continue
            mine = history(states, str(container["name"]))
            if not mine or not mine[0].running:
                continue
            cid = mine[0].id
            live.add(cid)
            if cid in w.probers:
                continue
            prober = ContainerProber(
                container=container,
                container_id=cid,
                pod_ip=ip,
                runtime=self.runtime,
                on_result=self._result_callback(w, cid),
                on_kill=self._kill_callback(w, cid),
            )
            w.ready[cid] = prober.ready
            w.started[cid] = prober.started
            w.probers[cid] = prober
            prober.start()
        w.stop_probers(keep=live)
        for d in (w.ready, w.started):
            for cid in [c for c in d if c not in live and c not in {s.id for s in states}]:
                del d[cid]

    @staticmethod
    def _result_callback(w: PodWorker, cid: str) -> ResultCallback:
        def on_result(_name: str, kind: str, ok: bool) -> None:
            if kind == "readiness":
                w.ready[cid] = ok
            elif kind == "startup":
                w.started[cid] = ok
            w.wake.set()

        return on_result

    def _kill_callback(self, w: PodWorker, cid: str) -> KillCallback:
        async def on_kill(_name: str, _kind: str, message: str) -> None:
            w.kill_requests[cid] = f"Container failed liveness probe, will be restarted: {message}"
            if w.pod is not None:
                self._event(w.pod, "Warning", "Unhealthy", message)
            w.wake.set()

        return on_kill

    async def _write_status(
        self, w: PodWorker, pod: Mapping[str, Any], states: list[ContainerState], *, init_done: bool
    ) -> None:
        spec = pod.get("spec") or {}
        sandbox_running = any(s.is_sandbox and s.running for s in states)
        ip = self.config.host_ip if spec.get("hostNetwork") else (w.handle.ip if w.handle else None)
        annotations = pod["metadata"].get("annotations") or {}
        facts = PodFacts(
            states=states,
            waiting=w.waiting,
            ready=w.ready,
            started=w.started,
            init_done=init_done,
            failed_reason=w.failed_reason,
            pod_ip=ip,
            host_ip=self.config.host_ip,
            start_time=w.start_time,
            sandbox_ready=sandbox_running,
            force_unready=self.config.fake
            and str(annotations.get(READY_ANNOTATION, "true")).lower() == "false",
        )
        current = pod.get("status") or {}
        # Our last write may not be back through the informer yet (same resourceVersion as
        # the pod it was computed from): then *it* is the previous status, so transition
        # times carry over and a second sync a second later finds nothing new to write.
        pending = None
        if w.last_written is not None and w.last_written.get("_rv") == pod["metadata"].get("resourceVersion"):
            pending = {k: v for k, v in w.last_written.items() if k != "_rv"}
        status = pod_status(pod if pending is None else {**pod, "status": pending}, facts)
        if same_status(status, current) or (pending is not None and same_status(status, pending)):
            return
        meta = pod["metadata"]
        try:
            await self.client.patch(
                PODS,
                meta["name"],
                {"metadata": {"uid": w.uid}, "status": status},
                namespace=meta.get("namespace"),
                subresource="status",
            )
        except NotFoundError:
            return
        except ConflictError:
            w.poke(0.5)
            return
        w.last_written = {**status, "_rv": meta.get("resourceVersion")}

    async def _gc(self, states: list[ContainerState]) -> None:
        """Keep the newest two containers per name (current + previous for logs --previous)."""
        names = {s.container_name for s in states if not s.is_sandbox}
        for name in names:
            for old in history(states, name)[2:]:
                if not old.running:
                    with contextlib.suppress(ContainerRuntimeError):
                        await self.runtime.remove_container(old.id)

    # --- termination ----------------------------------------------------------------------

    async def terminate(self, w: PodWorker, pod: Mapping[str, Any]) -> None:
        """preStop, SIGTERM, grace period, SIGKILL, clean up, then finish the delete."""
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", self.config.default_grace)
        grace = float(grace)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        w.stop_probers()
        states = await self.runtime.list_containers(pod_uid=w.uid)
        by_name = {str(c["name"]): c for c in spec.get("containers") or []}
        ip = (
            self.config.host_ip
            if spec.get("hostNetwork")
            else (w.handle.ip if w.handle else next((s.ip for s in states if s.is_sandbox and s.ip), None))
        )

        async def stop_one(state: ContainerState) -> None:
            container = by_name.get(state.container_name) or {}
            hook = ((container.get("lifecycle") or {}).get("preStop")) or None
            if hook:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._run_hook(hook, container, state.id, ip), max(0.1, deadline - loop.time())
                    )
            await self.runtime.stop_container(state.id, max(0.0, deadline - loop.time()))

        apps = [s for s in states if not s.is_sandbox and s.running]
        if apps:
            self._event(
                pod, "Normal", "Killing", f"Stopping container {' '.join(s.container_name for s in apps)}"
            )
        await asyncio.gather(*(stop_one(s) for s in apps))
        await self.runner.kill_pod(w.uid, grace_period=0)
        w.handle = None
        with contextlib.suppress(NotFoundError, ConflictError):
            await self.client.delete(
                PODS,
                meta["name"],
                namespace=meta.get("namespace"),
                grace_period_seconds=0,
                preconditions={"uid": w.uid},
            )
        w.done = True

    async def _run_hook(
        self, hook: Mapping[str, Any], container: Mapping[str, Any], cid: str, ip: str | None
    ) -> None:
        if "exec" in hook:
            await self.runtime.exec(cid, list(hook["exec"].get("command") or []), timeout=None)
        elif "httpGet" in hook:
            spec = hook["httpGet"]
            port = resolve_port(spec.get("port", 80), container)
            host = spec.get("host") or ip or "127.0.0.1"
            async with httpx.AsyncClient(timeout=None, trust_env=False, verify=False) as client:
                await client.get(
                    f"{str(spec.get('scheme') or 'HTTP').lower()}://{host}:{port}{spec.get('path') or '/'}"
                )
        elif "sleep" in hook:
            await asyncio.sleep(float(hook["sleep"].get("seconds", 0)))

    def _event(self, pod: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            with contextlib.suppress(Exception):
                self.recorder.event(dict(pod), kind, reason, message)


class InformerSource(ObjectSource):
    """ConfigMaps and Secrets from informer caches (keys ``<namespace>/<name>``)."""

    def __init__(self, config_maps: Informer | None, secrets: Informer | None) -> None:
        self.config_maps = config_maps
        self.secrets = secrets

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.config_maps.get(f"{namespace}/{name}") if self.config_maps else None

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.secrets.get(f"{namespace}/{name}") if self.secrets else None

    def service_account_token(
        self, namespace: str, service_account: str, *, audience: str | None, expiration_seconds: int
    ) -> str | None:
        return None


def kubelet_root_default(node_name: str) -> Path:
    from minik.client.kubeconfig import minik_home

    return minik_home() / "kubelet" / node_name
