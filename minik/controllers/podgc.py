"""Pod garbage collection: pods nobody else will ever clean up.

Most pods leave through their owner (a ReplicaSet scales down) or their
kubelet (it finishes a graceful delete). A few kinds of pod have nobody left to
remove them, and this controller does, every ``gc_period`` seconds (upstream
``podgc``, 20 s):

* **Orphaned** — bound to a node that no longer exists. Their kubelet is gone
  with the node, so a graceful delete would wait forever: they are *force*
  deleted (``gracePeriodSeconds: 0``). A node missing from the cache may just
  not have arrived yet (a pod can be bound to a brand-new node before this
  informer sees it), so a node must stay missing for ``quarantine`` seconds
  (40 s upstream) *and* a live GET must answer 404 before its pods go.
* **Terminating, unscheduled** — a deletionTimestamp but no node: no kubelet
  will ever finish them.
* **Terminating on an out-of-service node** — a node tainted
  ``node.kubernetes.io/out-of-service:NoExecute`` and not Ready has been
  declared dead by an administrator: its terminating pods are force deleted so
  StatefulSets can recreate them (upstream non-graceful node shutdown).
* **Terminated, over the threshold** — Succeeded and Failed pods are kept for
  their logs and status, but not without limit: beyond
  ``terminated_pod_threshold`` (12500) the oldest (by creation) are deleted.

Before a pod is force deleted for the first two reasons it is marked
``phase: Failed`` with a ``DisruptionTarget`` condition (reason
``DeletionByPodGC``), as upstream does, so whoever watches it learns why.

This is a periodic sweep over the informer cache, not a per-key reconcile:
every rule looks at the whole population (a count, the set of nodes), and
nothing needs reacting to within milliseconds. Each pass is idempotent.

The deletes of one sweep run concurrently, at most ``concurrency`` (50) at a
time, as upstream's pod GC deletes in parallel: one at a time, each waiting its
round trips, a thousand pods of a deleted node pool took minutes; in parallel
they go at what the API server sustains (hundreds per second).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from minik.client.clock import REAL_CLOCK, Clock
from minik.client.controller import Controller
from minik.client.errors import APIConnectionError, APIError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import NODES, PODS
from minik.client.objects import (
    Obj,
    deepcopy,
    format_time,
    is_being_deleted,
    metadata,
    name_of,
    namespace_of,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.controllers.pods import is_pod_terminal

log = logging.getLogger(__name__)

OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def _node_name(pod: Obj) -> str:
    return str(spec_of(pod).get("nodeName") or "")


def _out_of_service(node: Obj) -> bool:
    tainted = any(
        t.get("key") == OUT_OF_SERVICE_TAINT and t.get("effect") == "NoExecute"
        for t in spec_of(node).get("taints") or []
    )
    ready = next(
        (c.get("status") for c in status_of(node).get("conditions") or [] if c.get("type") == "Ready"),
        "Unknown",
    )
    return tainted and ready != "True"


class PodGCController:
    """Periodically deletes orphaned, stuck and surplus terminated pods (see the module docs)."""

    name = "podgc"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        terminated_pod_threshold: int = 12500,
        gc_period: float = 20.0,
        quarantine: float = 40.0,
        concurrency: int = 50,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.terminated_pod_threshold = terminated_pod_threshold
        self.gc_period = gc_period
        self.quarantine = quarantine
        self._slots = asyncio.Semaphore(concurrency)
        self.clock = clock or REAL_CLOCK
        self.pods = factory.informer(PODS)
        self.nodes = factory.informer(NODES)
        self.loops: list[Controller] = []  # a periodic sweep, not a work queue
        #: node name → our monotonic time when we first noticed it missing
        self._missing_since: dict[str, float] = {}
        self.passes = 0
        self.deleted = 0

    async def run(self) -> None:
        await wait_for_cache_sync(self.pods, self.nodes)
        log.info(
            "pod GC: every %.1fs; terminated-pod threshold %d", self.gc_period, self.terminated_pod_threshold
        )
        while True:
            try:
                await self.gc_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod GC pass failed")
            await self.clock.sleep(self.gc_period)

    async def gc_once(self) -> None:
        """One sweep (public for tests and for callers driving it themselves)."""
        self.passes += 1
        pods = self.pods.list()
        if self.terminated_pod_threshold > 0:
            await self._gc_terminated(pods)
        await self._gc_orphaned(pods)
        await self._gc_unscheduled_terminating(pods)
        await self._gc_out_of_service(pods)

    async def _gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if is_pod_terminal(p) and not is_being_deleted(p)]
        surplus = len(terminated) - self.terminated_pod_threshold
        if surplus <= 0:
            return
        terminated.sort(key=lambda p: (str(metadata(p).get("creationTimestamp") or ""), name_of(p)))
        log.info(
            "pod GC: %d terminated pods, threshold %d: deleting the %d oldest",
            len(terminated),
            self.terminated_pod_threshold,
            surplus,
        )
        await self._force_delete_all((pod, None) for pod in terminated[:surplus])

    async def _gc_orphaned(self, pods: list[Obj]) -> None:
        now = self.clock.now()
        missing: set[str] = set()
        for pod in pods:
            node = _node_name(pod)
            if node and self.nodes.get(node) is None:
                missing.add(node)
        for gone in set(self._missing_since) - missing:
            del self._missing_since[gone]
        confirmed: set[str] = set()

        async def check(node: str) -> None:
            async with self._slots:
                try:
                    await self.client.get(NODES, node)
                except NotFoundError:
                    confirmed.add(node)
                except (APIError, APIConnectionError) as exc:
                    log.warning("pod GC: cannot check node %s: %s", node, exc)

        due = [n for n in missing if now - self._missing_since.setdefault(n, now) >= self.quarantine]
        await asyncio.gather(*(check(n) for n in due))  # a deleted node pool: a thousand GETs
        await self._force_delete_all(
            (pod, f"node {_node_name(pod)} no longer exists") for pod in pods if _node_name(pod) in confirmed
        )

    async def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        await self._force_delete_all(
            (pod, None) for pod in pods if is_being_deleted(pod) and not _node_name(pod)
        )

    async def _gc_out_of_service(self, pods: list[Obj]) -> None:
        doomed: list[tuple[Obj, str | None]] = []
        for pod in pods:
            node = self.nodes.get(_node_name(pod)) if _node_name(pod) else None
            if node is not None and is_being_deleted(pod) and _out_of_service(node):
                doomed.append((pod, f"node {name_of(node)} is out of service"))
        await self._force_delete_all(doomed)

    async def _force_delete_all(self, doomed: Iterable[tuple[Obj, str | None]]) -> None:
        """Force delete every (pod, reason), ``concurrency`` at a time."""

        async def one(pod: Obj, reason: str | None) -> None:
            async with self._slots:
                await self._force_delete(pod, reason=reason)

        await asyncio.gather(*(one(pod, reason) for pod, reason in doomed))

    async def _force_delete(self, pod: Obj, *, reason: str | None) -> None:
        ns, name = namespace_of(pod), name_of(pod)
        if reason is not None and not is_pod_terminal(pod):
            marked = deepcopy(pod)
            status = marked.setdefault("status", {})
            status["phase"] = "Failed"
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
            conditions.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": f"PodGC: {reason}",
                    "lastTransitionTime": format_time(self.clock.wall()),
                }
            )
            status["conditions"] = conditions
            try:
                await self.client.update_status(PODS, marked)
            except (NotFoundError, ConflictError):
                pass  # gone, or changed: the delete below still applies (uid-checked)
            except (APIError, APIConnectionError) as exc:
                log.warning("pod GC: cannot mark %s/%s failed: %s", ns, name, exc)
        try:
            await self.client.delete(
                PODS, name, namespace=ns, grace_period_seconds=0, preconditions={"uid": uid_of(pod) or ""}
            )
        except (NotFoundError, ConflictError):
            return
        except (APIError, APIConnectionError) as exc:
            log.warning("pod GC: cannot delete %s/%s: %s", ns, name, exc)
            return
        self.deleted += 1
        log.info("pod GC: force-deleted pod %s/%s%s", ns, name, f" ({reason})" if reason else "")
