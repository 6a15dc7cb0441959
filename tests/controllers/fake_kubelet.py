"""A stand-in kubelet and an in-process controller harness for integration tests.

No Docker and no scheduler run in these tests, so something has to do what a
node would do to a pod; :class:`FakeKubelet` does it through the API exactly
as the real kubelet would:

* an unscheduled pod is bound (``pods/binding``) to the node its DaemonSet
  affinity names, or to ``node_name``;
* a scheduled pod gets a status after ``ready_delay`` seconds, chosen per pod
  by ``policy(pod)`` or by ``overrides[pod name]``: ``ready`` (Running and
  Ready), ``not-ready`` (Running, not Ready), ``succeed`` / ``fail`` (the
  container exited 0 / 1), ``pending`` / ``ignore`` (leave it alone);
* a pod with a ``deletionTimestamp`` is deleted for good with grace period 0
  (its containers "stopped" at once).

:class:`Harness` runs controllers plus the fake kubelet on an asyncio loop in
a background thread, so a test body stays synchronous: it writes objects with
the ``api`` fixture and polls with ``tests.helpers.wait_until`` while the
controllers work concurrently, and a blocking poll never freezes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from minik.client.controller import Controller, Result
from minik.client.errors import APIError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import PODS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj, deepcopy, format_time, name_of, namespace_of
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

T = TypeVar("T")

READY = "ready"
NOT_READY = "not-ready"
SUCCEED = "succeed"
FAIL = "fail"
PENDING = "pending"


class Runnable(Protocol):
    async def run(self) -> None: ...


Builder = Callable[[APIClient, SharedInformerFactory, EventRecorder], Runnable]
Observer = Callable[[SharedInformerFactory], None]


def affinity_node(pod: Obj) -> str | None:
    """The node a DaemonSet pins its pod to (``matchFields metadata.name In [node]``)."""
    terms = (
        (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
        .get("nodeSelectorTerms")
    ) or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None


def _pod_ip(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return f"10.244.{digest[0]}.{digest[1] % 250 + 2}"


class FakeKubelet:
    """Plays the kubelet for every pod of one namespace (see the module docs)."""

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        *,
        node_name: str = "fake-node",
        bind: bool = True,
        ready_delay: float = 0.0,
        policy: Callable[[Obj], str] | None = None,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.bind = bind
        self.ready_delay = ready_delay
        self.policy = policy or (lambda pod: READY)
        #: pod name → action; set from the test thread, then :meth:`poke` the pod.
        self.overrides: dict[str, str] = {}
        self.pods: Informer = factory.informer(PODS)
        self.controller = Controller("fake-kubelet", self.reconcile, workers=4)
        self._first_seen: dict[str, float] = {}

    async def run(self) -> None:
        self.controller.watch(self.pods)
        await self.controller.run(wait_for=[self.pods])

    def poke(self, name: str, namespace: str) -> None:
        self.controller.enqueue(f"{namespace}/{name}")

    async def reconcile(self, key: str) -> Result | None:
        pod = self.pods.get(key)
        if pod is None:
            return None
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            if int(meta.get("deletionGracePeriodSeconds") or 0) == 0 and meta.get("finalizers"):
                return None  # already deleted for good; only finalizers hold it
            with contextlib.suppress(NotFoundError):
                await self.client.delete(
                    PODS, name_of(pod), namespace=namespace_of(pod), grace_period_seconds=0
                )
            return None
        spec = pod.get("spec") or {}
        if not spec.get("nodeName"):
            if not self.bind:
                return None
            with contextlib.suppress(ConflictError, NotFoundError):
                await self.client.create_binding(pod, affinity_node(pod) or self.node_name)
            return None
        action = self.overrides.get(name_of(pod)) or self.policy(pod)
        if action not in (READY, NOT_READY, SUCCEED, FAIL):
            return None
        uid = str(meta.get("uid"))
        now = time.monotonic()
        first = self._first_seen.setdefault(uid, now)
        if now - first < self.ready_delay:
            return Result(requeue_after=self.ready_delay - (now - first))
        status = pod.get("status") or {}
        phase = {READY: "Running", NOT_READY: "Running", SUCCEED: "Succeeded", FAIL: "Failed"}[action]
        ready = action == READY
        current_ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        if status.get("phase") in ("Succeeded", "Failed"):
            return None  # finished pods never change again
        if status.get("phase") == phase and current_ready == ready:
            return None
        await self._write_status(pod, phase, ready, action)
        return None

    async def _write_status(self, pod: Obj, phase: str, ready: bool, action: str) -> None:
        stamp = format_time(datetime.now(UTC))
        body = deepcopy(pod)
        status = body.setdefault("status", {})
        old_conditions = {c.get("type"): c for c in status.get("conditions") or []}

        def cond(kind: str, value: bool) -> dict[str, Any]:
            text = "True" if value else "False"
            old = old_conditions.get(kind)
            since = old.get("lastTransitionTime") if old and old.get("status") == text else stamp
            return {"type": kind, "status": text, "lastProbeTime": None, "lastTransitionTime": since}

        containers = (pod.get("spec") or {}).get("containers") or []
        if phase in ("Succeeded", "Failed"):
            code = 0 if phase == "Succeeded" else 1
            state: dict[str, Any] = {
                "terminated": {
                    "exitCode": code,
                    "reason": "Completed" if code == 0 else "Error",
                    "startedAt": stamp,
                    "finishedAt": stamp,
                }
            }
        else:
            state = {"running": {"startedAt": stamp}}
        status.update(
            {
                "phase": phase,
                "hostIP": "10.0.0.1",
                "podIP": _pod_ip(str(pod["metadata"]["uid"])),
                "startTime": status.get("startTime") or stamp,
                "conditions": [
                    cond("Initialized", True),
                    cond("Ready", ready),
                    cond("ContainersReady", ready),
                    cond("PodScheduled", True),
                ],
                "containerStatuses": [
                    {
                        "name": c.get("name"),
                        "image": c.get("image"),
                        "imageID": "",
                        "containerID": f"fake://{c.get('name')}",
                        "ready": ready,
                        "restartCount": 0,
                        "started": phase == "Running",
                        "state": state,
                    }
                    for c in containers
                ],
            }
        )
        if phase == "Failed":
            status["reason"] = "Error"
        try:
            await self.client.update_status(PODS, body)
        except (ConflictError, NotFoundError):
            pass  # a newer version is on its way through the watch
        except APIError as exc:
            log.warning("fake kubelet: cannot write status of %s (%s): %s", name_of(pod), action, exc)


class Harness:
    """Controllers + a fake kubelet on a background event loop (see the module docs)."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        builders: Iterable[Builder],
        *,
        kubelet: bool = True,
        observers: Iterable[Observer] = (),
        **kubelet_options: Any,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.builders = list(builders)
        self.with_kubelet = kubelet
        self.observers = list(observers)
        self.kubelet_options = kubelet_options
        self.kubelet: FakeKubelet | None = None
        self.controllers: list[Runnable] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failures: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> Harness:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name="controller-harness", daemon=True)
        self._thread.start()
        if not self._started.wait(30):
            raise RuntimeError("controller harness did not start")
        if self.failures:
            raise self.failures[0]

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        if self.failures:
            raise AssertionError(f"a controller task failed: {self.failures[0]!r}") from self.failures[0]

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run ``fn()`` on the harness loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)  # type: ignore[arg-type]

    def set_action(self, pod_name: str, action: str) -> None:
        """Change what the fake kubelet does with one pod (thread-safe)."""
        assert self.kubelet is not None and self.loop is not None
        self.kubelet.overrides[pod_name] = action
        self.loop.call_soon_threadsafe(self.kubelet.poke, pod_name, self.namespace)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.failures.append(exc)
            self._started.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = APIClient(load_kubeconfig(self.kubeconfig))
        factory = SharedInformerFactory(client, namespace=self.namespace)
        recorder = EventRecorder(client, "minik-controller-manager")
        tasks: list[asyncio.Task[None]] = []
        try:
            self.controllers = [build(client, factory, recorder) for build in self.builders]
            if self.with_kubelet:
                self.kubelet = FakeKubelet(client, factory, **self.kubelet_options)
            for observe in self.observers:
                observe(factory)
            runnables: list[Runnable] = [*self.controllers, *([self.kubelet] if self.kubelet else [])]
            tasks = [asyncio.create_task(r.run(), name=f"harness {type(r).__name__}") for r in runnables]
            factory.start()
            await factory.wait_for_sync(timeout=30)
            self._started.set()
            stop_wait = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stop_wait, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_wait and not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    assert exc is not None
                    self.failures.append(exc)
            stop_wait.cancel()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await factory.shutdown()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(recorder.close(), 5)
            await client.aclose()
