"""The scheduling loop: one pod at a time through the cycle, binding in the background.

Upstream's ``schedule_one.go``. Each turn of :meth:`Scheduler.run`::

    queue.pop()                                  queue.py
      └─ cache.update_snapshot()                 cache.py   (copies only changed nodes)
      └─ schedule_pod()                          here
           PreFilter, Filter (rotating start, stop after enough feasible nodes)
           PreScore, Score, NormalizeScore, weights   framework/runtime.py
           select_host (highest total, ties at random)
      └─ assume (cache), Reserve                  cache.py, framework
      └─ binding cycle, as a task:               here
           Bind (DefaultBinder: POST pods/<name>/binding)
           ok  -> finish_binding, event "Scheduled"
           err -> forget (un-assume), Unreserve, requeue with backoff

The scheduling cycle is synchronous: nothing awaits between the snapshot and
the assumption, so no informer event can slip in and the next cycle always
sees the previous decision. Binding is the slow part (an HTTP round trip),
so it runs concurrently; at most ``max_inflight_binds`` at a time, after
which the loop waits — backpressure instead of an unbounded pile of tasks.

**How many nodes to look at** (:meth:`Scheduler.num_feasible_nodes_to_find`,
upstream's ``percentageOfNodesToScore``): in a small cluster (< 100 nodes),
all of them. Otherwise filtering stops once ``percentage`` of the nodes were
found feasible — the profile's setting, else the global one, else adaptive:
``50 - nodes/125`` percent, at least 5 %, and never fewer than 100 nodes.
With 1,000 nodes that is 42 %: 420 feasible nodes are scored instead of
1,000. The search starts where the previous one stopped, so over many pods
every node gets its turn.

**When no node fits**: the pod's ``PodScheduled`` condition becomes
``False/Unschedulable`` with the :class:`~minik.scheduler.diagnosis.FitError`
message (written through ``pods/<name>/status`` only when it changed), a
``FailedScheduling`` Warning event carries the same text, and the pod is
parked in the queue until a relevant cluster event. Plugin errors and failed
binds are reported as ``SchedulerError`` and retried after backoff. A bind
answered 409 (someone else bound the pod) or 404 (the pod is gone) is not
retried: the informer will report what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from minik.client.clock import REAL_CLOCK, Clock
from minik.client.errors import AlreadyExistsError, ConflictError, NotFoundError
from minik.client.objects import Obj, format_time
from minik.scheduler.cache import Cache, Snapshot
from minik.scheduler.config import SchedulerConfig
from minik.scheduler.diagnosis import Diagnosis, FitError
from minik.scheduler.framework.interface import BindingClient, BudgetLister, Handle, NamespaceLister, Plugin
from minik.scheduler.framework.runtime import Framework
from minik.scheduler.framework.types import (
    Code,
    CycleState,
    FrameworkError,
    NodeInfo,
    PodInfo,
    QueuedPodInfo,
    Status,
)
from minik.scheduler.metrics import SchedulerMetrics
from minik.scheduler.plugins import IN_TREE_PLUGINS
from minik.scheduler.preemption import CANDIDATE_KEY, Candidate
from minik.scheduler.queue import ASSIGNED_POD_DELETE, QueueClosed, SchedulingQueue

log = logging.getLogger(__name__)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


class Recorder(Protocol):
    """What the scheduler needs of :class:`~minik.client.events.EventRecorder`."""

    def event(self, obj: Obj, type: str, reason: str, message: str) -> None: ...


class StatusClient(Protocol):
    """The status write for ``PodScheduled=False`` (``APIClient.patch`` fits)."""

    async def patch(
        self,
        resource: Any,
        name: str,
        body: Any,
        *,
        namespace: str | None = None,
        type: Any = ...,
        subresource: str | None = None,
    ) -> Obj: ...


class _NullRecorder:
    def event(self, obj: Obj, type: str, reason: str, message: str) -> None:
        pass


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """Upstream's ``numFeasibleNodesToFind`` (see the module docs); ``percentage`` 0 = adaptive."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    found = num_all_nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


class Scheduler:
    """The cache, the queue and one framework per profile, wired together."""

    def __init__(
        self,
        *,
        config: SchedulerConfig | None = None,
        client: BindingClient | None = None,
        registry: Mapping[str, type[Plugin]] = IN_TREE_PLUGINS,
        recorder: Recorder | Mapping[str, Recorder] | None = None,
        namespaces: NamespaceLister | None = None,
        budgets: BudgetLister | None = None,
        clock: Clock | None = None,
        metrics: SchedulerMetrics | None = None,
        rng: random.Random | None = None,
        max_inflight_binds: int = 64,
        assumed_pod_ttl: float = 30.0,
    ) -> None:
        self.config = config or SchedulerConfig()
        self.client = client
        self.clock = clock or REAL_CLOCK
        # One recorder per profile (events name the profile's scheduler as their source).
        self._recorders: Mapping[str, Recorder] = recorder if isinstance(recorder, Mapping) else {}
        self._default_recorder: Recorder = (
            recorder if recorder is not None and not isinstance(recorder, Mapping) else _NullRecorder()
        )
        self.metrics = metrics or SchedulerMetrics()
        self.rng = rng or random.Random()
        self.cache = Cache(ttl=assumed_pod_ttl)
        self.snapshot = Snapshot()
        handle = Handle(self.snapshot, client)
        if namespaces is not None:
            handle.namespaces = namespaces
        if budgets is not None:
            handle.budgets = budgets
        self.handle = handle
        self.nominator = handle.nominator
        #: pods whose victims are being evicted right now (the API calls still running)
        self._preempting: set[str] = set()
        self.profiles: dict[str, Framework] = {}
        for profile in self.config.profiles:
            self.profiles[profile.scheduler_name] = Framework(profile, registry, handle)
        first = next(iter(self.profiles.values()))
        for fwk in self.profiles.values():
            if type(fwk.queue_sort) is not type(first.queue_sort):
                raise ValueError("all profiles must use the same queueSort plugin")
        self.queue = SchedulingQueue(
            sort_key=first.queue_sort.sort_key,
            clock=self.clock,
            initial_backoff=self.config.pod_initial_backoff_seconds,
            max_backoff=self.config.pod_max_backoff_seconds,
        )
        for fwk in self.profiles.values():
            for plugin, events in fwk.events_to_register().items():
                self.queue.register_events(plugin, events)
        self.next_start_node_index = 0
        self._bind_slots = asyncio.Semaphore(max_inflight_binds)
        self._tasks: set[asyncio.Task[None]] = set()
        #: ``namespace/name`` -> the pod as the informer has it now (set when wired to informers)
        self.pod_lister: Callable[[str], Obj | None] | None = None
        self.metrics.gauges["scheduler_pending_pods"] = lambda: {
            (("queue", "active"),): self.queue.active_count,
            (("queue", "backoff"),): self.queue.backoff_count,
            (("queue", "unschedulable"),): self.queue.unschedulable_count,
        }
        self.metrics.gauges["scheduler_cache_size"] = lambda: {
            (("type", "nodes"),): self.cache.node_count,
            (("type", "pods"),): self.cache.pod_count,
        }

    def recorder_for(self, scheduler_name: str) -> Recorder:
        return self._recorders.get(scheduler_name, self._default_recorder)

    # -- ownership ------------------------------------------------------------------------------

    def responsible_for(self, pod: Obj) -> bool:
        """Whether one of our profiles schedules this pod (its ``spec.schedulerName``)."""
        name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return name in self.profiles

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Schedule pods until cancelled (or the queue is closed)."""
        housekeeping = [
            asyncio.create_task(self.queue.run_housekeeping(), name="queue housekeeping"),
            asyncio.create_task(self._cleanup_assumed(), name="assumed pod expiry"),
        ]
        try:
            while True:
                try:
                    qpi = await self.queue.pop()
                except QueueClosed:
                    return
                await self._bind_slots.acquire()
                started = False
                try:
                    started = self.schedule_one(qpi)
                finally:
                    if not started:
                        self._bind_slots.release()
                # Let informers, binds and event writes run between cycles.
                await asyncio.sleep(0)
        finally:
            for task in housekeeping:
                task.cancel()
            for task in housekeeping:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _cleanup_assumed(self, period: float = 1.0) -> None:
        while True:
            await self.clock.sleep(period)
            self.cache.cleanup_assumed_pods(self.clock.now())

    async def wait_for_binds(self) -> None:
        """Wait until every binding (and status write) started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Close the queue and cancel bindings in flight."""
        self.queue.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- one scheduling cycle ---------------------------------------------------------------------

    def _skip(self, pod: PodInfo) -> bool:
        """Upstream ``skipPodSchedule``: deleted meanwhile, or already assumed."""
        return pod.terminating or self.cache.is_assumed(pod.uid)

    def schedule_one(self, qpi: QueuedPodInfo) -> bool:
        """The synchronous scheduling cycle; returns whether a binding task was started."""
        pod = qpi.pod
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is None or self._skip(pod):
            self.queue.done(pod.key)
            return False
        cycle = self.queue.scheduling_cycle
        start = self.clock.now()
        self.cache.update_snapshot(self.snapshot)
        state = CycleState()
        try:
            host = self.schedule_pod(fwk, state, pod)
        except FitError as err:
            nominated, post = fwk.run_post_filter(state, pod, err.diagnosis.node_to_status)
            if post is not None:
                err.diagnosis.post_filter_msg = post.message
            if nominated:
                self._start_preemption(fwk, state, pod, nominated)
            self.metrics.observe_attempt(fwk.profile_name, "unschedulable", self.clock.now() - start)
            log.debug("unable to schedule %s: %s", pod.key, err.message)
            self.handle_failure(
                qpi,
                reason="Unschedulable",
                message=err.message,
                plugins=err.diagnosis.unschedulable_plugins,
                cycle=cycle,
            )
            return False
        except FrameworkError as err:
            self.metrics.observe_attempt(fwk.profile_name, "error", self.clock.now() - start)
            log.warning("error scheduling %s: %s", pod.key, err)
            self.handle_failure(qpi, reason="SchedulerError", message=str(err), plugins=set(), cycle=cycle)
            return False

        assumed = pod.assumed_on(host)
        try:
            self.cache.assume_pod(assumed)
        except ValueError as exc:
            self.metrics.observe_attempt(fwk.profile_name, "error", self.clock.now() - start)
            self.handle_failure(qpi, reason="SchedulerError", message=str(exc), plugins=set(), cycle=cycle)
            return False
        self.nominator.delete(pod.key)  # placed: the room held for it (if any) is taken now
        status = fwk.run_reserve(state, assumed, host)
        if status is not None:
            fwk.run_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self.metrics.observe_attempt(fwk.profile_name, "error", self.clock.now() - start)
            self.handle_failure(qpi, reason="SchedulerError", message=str(status), plugins=set(), cycle=cycle)
            return False
        self._spawn(self._binding_cycle(fwk, state, qpi, assumed, host, start, cycle), f"bind {pod.key}")
        return True

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: PodInfo) -> str:
        """Filter and score; return the chosen node's name or raise :class:`FitError`."""
        all_nodes = self.snapshot.node_info_list
        if not all_nodes:
            raise FitError(pod, 0, Diagnosis())
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod)
        if not feasible:
            raise FitError(pod, len(all_nodes), diagnosis)
        if len(feasible) == 1:
            return feasible[0].name
        fwk.run_pre_score(state, pod, feasible)
        scores = fwk.run_score(state, pod, feasible) if fwk.score_plugins else [1] * len(feasible)
        return self.select_host(feasible, scores)

    def find_nodes_that_fit(
        self, fwk: Framework, state: CycleState, pod: PodInfo
    ) -> tuple[list[NodeInfo], Diagnosis]:
        all_nodes = self.snapshot.node_info_list
        diagnosis = Diagnosis()
        result, status = fwk.run_pre_filter(state, pod, all_nodes)
        if status is not None:
            diagnosis.pre_filter_msg = status.message
            diagnosis.unschedulable_plugins.add(status.plugin)
            for node in all_nodes:
                diagnosis.node_to_status[node.name] = status
            return [], diagnosis
        nodes: Sequence[NodeInfo] = all_nodes
        if len(self.nominator):
            # Room held for nominated pods of at least this priority counts as taken.
            nodes = [self.nominator.with_nominated(node, pod) for node in nodes]
        if result is not None and result.node_names is not None:
            by_name = self.snapshot.node_info_map
            wanted = [by_name[name] for name in sorted(result.node_names) if name in by_name]
            nodes = [self.nominator.with_nominated(node, pod) for node in wanted]
            plugins = " ".join(sorted(result.plugins))
            diagnosis.absent_status = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (f"node(s) didn't satisfy plugin(s) [{plugins}]",)
            )
            diagnosis.absent_count = len(all_nodes) - len(nodes)
            diagnosis.unschedulable_plugins.update(result.plugins)
        limit = num_feasible_nodes_to_find(
            fwk.percentage_of_nodes_to_score
            if fwk.percentage_of_nodes_to_score is not None
            else self.config.percentage_of_nodes_to_score,
            len(nodes),
        )
        feasible, processed = fwk.find_feasible(
            state,
            pod,
            nodes,
            start=self.next_start_node_index,
            limit=limit,
            statuses=diagnosis.node_to_status,
        )
        if all_nodes:
            self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        if not feasible:
            diagnosis.unschedulable_plugins.update(s.plugin for s in diagnosis.node_to_status.values())
        return feasible, diagnosis

    def select_host(self, nodes: Sequence[NodeInfo], scores: Sequence[int]) -> str:
        """The highest-scoring node; among equals, one at random (upstream's reservoir sampling)."""
        best = max(scores)
        top = [i for i, s in enumerate(scores) if s == best]
        return nodes[top[0] if len(top) == 1 else self.rng.choice(top)].name

    # -- preemption -------------------------------------------------------------------------------

    def _start_preemption(self, fwk: Framework, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Carry out what DefaultPreemption chose: hold the node, then evict the victims.

        The nomination is recorded at once (the next cycles already keep the room for
        this pod); the API writes -- ``status.nominatedNodeName``, each victim's
        ``DisruptionTarget`` condition and graceful delete -- run in the background.
        Lower-priority pods nominated to the same node lose their nomination, as upstream.
        """
        if pod.key in self._preempting:
            # Retried before its first eviction finished (the victims are not yet marked
            # terminating in the cache): the same victims were chosen again; leave it be.
            return
        found = state.data.get(CANDIDATE_KEY)
        victims = found.victims if isinstance(found, Candidate) and found.node_name == node_name else ()
        displaced = [
            other
            for other in self.nominator.pods_on(node_name)
            if other.priority < pod.priority and other.uid != pod.uid
        ]
        for other in displaced:
            self.nominator.delete(other.key)
        self.nominator.add(pod, node_name)
        if victims:
            log.info("preempting %s on %s for %s", ", ".join(v.key for v in victims), node_name, pod.key)
        self._preempting.add(pod.key)
        self._spawn(self._preempt(fwk, pod, node_name, victims, displaced), f"preempt for {pod.key}")

    async def _preempt(
        self,
        fwk: Framework,
        pod: PodInfo,
        node_name: str,
        victims: Sequence[PodInfo],
        displaced: Sequence[PodInfo],
    ) -> None:
        try:
            await self._evict(fwk, pod, node_name, victims, displaced)
        finally:
            self._preempting.discard(pod.key)

    async def _evict(
        self,
        fwk: Framework,
        pod: PodInfo,
        node_name: str,
        victims: Sequence[PodInfo],
        displaced: Sequence[PodInfo],
    ) -> None:
        client: Any = self.client
        if client is None or not hasattr(client, "patch") or not hasattr(client, "delete"):
            return
        await self._write_nomination(client, pod, node_name)
        for other in displaced:
            await self._write_nomination(client, other, None)
        recorder = self.recorder_for(fwk.profile_name)
        for victim in victims:
            condition = {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": f"{fwk.profile_name}: preempting to accommodate a higher priority pod",
                "lastTransitionTime": format_time(self.clock.wall()),
            }
            try:
                await client.patch(
                    "pods",
                    victim.name,
                    {"status": {"conditions": [condition]}},
                    namespace=victim.namespace,
                    type="strategic",
                    subresource="status",
                )
                # Graceful, as any delete: the victim gets its termination grace period.
                await client.delete(
                    "pods", victim.name, namespace=victim.namespace, preconditions={"uid": victim.uid}
                )
            except (NotFoundError, ConflictError):
                continue  # already gone (or replaced by a new pod of the same name)
            except Exception as exc:
                log.warning("cannot preempt %s for %s: %s", victim.key, pod.key, exc)
                continue
            recorder.event(victim.pod, "Normal", "Preempted", f"Preempted by {pod.key} on node {node_name}")

    async def _write_nomination(self, client: Any, pod: PodInfo, node_name: str | None) -> None:
        try:
            await client.patch(
                "pods",
                pod.name,
                {"status": {"nominatedNodeName": node_name}},
                namespace=pod.namespace,
                type="merge",
                subresource="status",
            )
        except NotFoundError:
            pass
        except Exception as exc:
            log.warning("cannot set the nominated node of %s: %s", pod.key, exc)

    # -- binding cycle ----------------------------------------------------------------------------

    async def _binding_cycle(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        assumed: PodInfo,
        host: str,
        start: float,
        cycle: int,
    ) -> None:
        try:
            try:
                status = await fwk.run_bind(state, assumed, host)
            except Exception as exc:  # a plugin bug must not leave the pod assumed forever
                log.exception("bind plugin failed for %s", assumed.key)
                status = Status(Code.ERROR, (f"binding failed: {exc}",), cause=exc)
        finally:
            self._bind_slots.release()
        now = self.clock.now()
        if status is None:
            self.cache.finish_binding(assumed, now)
            self.queue.done(assumed.key)
            self.metrics.observe_attempt(fwk.profile_name, "scheduled", now - start)
            first = qpi.initial_attempt_timestamp if qpi.initial_attempt_timestamp is not None else start
            self.metrics.observe_e2e(fwk.profile_name, now - first)
            self.recorder_for(fwk.profile_name).event(
                assumed.pod, "Normal", "Scheduled", f"Successfully assigned {assumed.key} to {host}"
            )
            return
        self.cache.forget_pod(assumed)
        fwk.run_unreserve(state, assumed, host)
        self.metrics.observe_attempt(fwk.profile_name, "error", now - start)
        cause = status.cause
        if isinstance(cause, ConflictError | AlreadyExistsError | NotFoundError):
            # Bound by someone else, or deleted: the informer will tell us; nothing to retry.
            log.info("binding %s to %s not retried: %s", assumed.key, host, cause)
            self.queue.done(assumed.key)
            return
        log.warning("binding %s to %s failed: %s", assumed.key, host, status.message)
        # The capacity the pod held is free again: parked pods may fit now.
        self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, assumed, None)
        self.handle_failure(qpi, reason="SchedulerError", message=status.message, plugins=set(), cycle=cycle)

    # -- failures ---------------------------------------------------------------------------------

    def handle_failure(
        self, qpi: QueuedPodInfo, *, reason: str, message: str, plugins: set[str], cycle: int
    ) -> None:
        """Requeue the pod (if it still needs us), record the event, update its condition."""
        pod = qpi.pod
        qpi.unschedulable_plugins = set(plugins)
        current: Obj | None = pod.pod
        if self.pod_lister is not None:
            current = self.pod_lister(pod.key)
        if current is None or (current.get("spec") or {}).get("nodeName"):
            self.queue.done(pod.key)  # deleted, or bound by someone else meanwhile
            return
        if current is not pod.pod:
            latest = PodInfo.from_pod(current)
            if latest.uid != pod.uid:
                self.queue.done(pod.key)  # a different pod with the same name now
                return
            qpi.pod = latest
        self.queue.add_unschedulable_if_not_present(qpi, cycle)
        self.recorder_for(pod.scheduler_name).event(qpi.pod.pod, "Warning", "FailedScheduling", message)
        self._set_unschedulable_condition(qpi.pod, reason, message)

    def _set_unschedulable_condition(self, pod: PodInfo, reason: str, message: str) -> None:
        conditions = (pod.pod.get("status") or {}).get("conditions") or ()
        for cond in conditions:
            if (
                isinstance(cond, dict)
                and cond.get("type") == "PodScheduled"
                and cond.get("status") == "False"
                and cond.get("reason") == reason
                and cond.get("message") == message
            ):
                return  # already says exactly this: no write
        client = self.client
        if client is None or not hasattr(client, "patch"):
            return
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": format_time(self.clock.wall()),
        }
        self._spawn(self._patch_condition(client, pod, condition), f"condition {pod.key}")

    async def _patch_condition(self, client: Any, pod: PodInfo, condition: Obj) -> None:
        try:
            await client.patch(
                "pods",
                pod.name,
                {"status": {"conditions": [condition]}},
                namespace=pod.namespace,
                type="strategic",
                subresource="status",
            )
        except NotFoundError:
            pass
        except Exception as exc:
            log.warning("cannot update the PodScheduled condition of %s: %s", pod.key, exc)
