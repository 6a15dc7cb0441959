"""The scheduling queue: which pod to try next, and when to try a failed one again.

Upstream's ``PriorityQueue`` (``pkg/scheduler/backend/queue``), three parts::

             add / update                   pop (one at a time)
    informer ───────────▶  activeQ  ───────────────────────────▶ scheduling cycle
                          ▲ heap: priority desc, then arrival          │
                          │                                            │ no node fits
               backoff    │ expired                                    ▼
               done  ┌────┴──────┐    cluster event the      ┌───────────────────┐
                     │ backoffQ  │◀── rejecting plugins ─────│ unschedulablePods │
                     │ heap: due │    care about             │ (parked)          │
                     └───────────┘                           └───────────────────┘

* **activeQ** is a heap ordered by the profile's QueueSort plugin —
  ``PrioritySort``: higher ``spec.priority`` first, then earlier arrival.
* A pod that fits nowhere is **parked** in ``unschedulablePods`` with the names
  of the plugins that rejected it. It is *not* retried on a timer: retrying
  cannot help until something changes. When an informer reports a change — a
  node added or updated, an assigned pod deleted — the queue asks, for every
  parked pod, whether any plugin that rejected it registered interest in that
  kind of event (``events_to_register``, with an optional *queueing hint* that
  looks at the object), and moves only those pods back (upstream's
  ``MoveAllToActiveOrBackoffQueue``). A parked pod is also released after
  ``max_unschedulable_duration`` (5 min) in case an event was missed.
* Moved pods whose **backoff** has not elapsed go to ``backoffQ`` first.
  Backoff is per pod: ``initial * 2**(attempts-1)``, capped — 1 s, 2 s, 4 s,
  8 s, 10 s with the defaults — counted from when the pod was last queued.
  A timer on the injectable clock moves each pod to activeQ when its backoff
  ends (upstream polls every second; a timer is exact and testable).
* A pod that failed with an *error* (not "unschedulable": a plugin error, a
  failed bind) goes straight to backoffQ.

**The race the cycle counter closes.** A pod is popped (cycle N) and, while
its cycle runs, a node is added. If the pod then fails and is parked, it would
miss that event and wait five minutes. So every move request records the
current cycle number, and a pod whose failed cycle started at or before the
last move request goes to backoffQ instead of being parked (upstream's
``moveRequestCycle``).

Keys are ``namespace/name``. A pod being scheduled ("in flight") is in none
of the queues; updates to it are ignored here because the failure path
re-queues the latest version from the informer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from minik.client.clock import REAL_CLOCK, Cancellable, Clock
from minik.scheduler.framework.interface import ClusterEventWithHint
from minik.scheduler.framework.types import ActionType, ClusterEvent, PodInfo, QueuedPodInfo

log = logging.getLogger(__name__)

__all__ = [
    "ASSIGNED_POD_ADD",
    "ASSIGNED_POD_DELETE",
    "ASSIGNED_POD_UPDATE",
    "NODE_ADD",
    "NODE_UPDATE",
    "UNSCHEDULABLE_TIMEOUT",
    "QueueClosed",
    "SchedulingQueue",
]

NODE_ADD: Final = ClusterEvent("Node", ActionType.ADD, "NodeAdd")
NODE_UPDATE: Final = ClusterEvent("Node", ActionType.UPDATE, "NodeUpdate")
ASSIGNED_POD_ADD: Final = ClusterEvent("AssignedPod", ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_UPDATE: Final = ClusterEvent("AssignedPod", ActionType.UPDATE, "AssignedPodUpdate")
ASSIGNED_POD_DELETE: Final = ClusterEvent("AssignedPod", ActionType.DELETE, "AssignedPodDelete")
#: Wildcard: matches every parked pod.
UNSCHEDULABLE_TIMEOUT: Final = ClusterEvent("*", ActionType.ALL, "UnschedulableTimeout")
FORCE_ACTIVATE: Final = ClusterEvent("*", ActionType.ALL, "ForceActivate")


class QueueClosed(Exception):
    """Raised by :meth:`SchedulingQueue.pop` after :meth:`SchedulingQueue.close`."""


class _Entry:
    __slots__ = ("alive", "qpi", "seq", "sort_key")

    def __init__(self, sort_key: Any, seq: int, qpi: QueuedPodInfo) -> None:
        self.sort_key = sort_key
        self.seq = seq
        self.qpi = qpi
        self.alive = True

    def __lt__(self, other: _Entry) -> bool:
        if self.sort_key == other.sort_key:
            return self.seq < other.seq
        return bool(self.sort_key < other.sort_key)


def priority_sort_key(qpi: QueuedPodInfo) -> Any:
    """PrioritySort: higher priority first, then earlier timestamp."""
    return (-qpi.pod.priority, qpi.timestamp)


class SchedulingQueue:
    """activeQ + backoffQ + unschedulablePods (see the module docs)."""

    def __init__(
        self,
        *,
        sort_key: Callable[[QueuedPodInfo], Any] = priority_sort_key,
        clock: Clock | None = None,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable_duration: float = 300.0,
        plugin_events: Mapping[str, Iterable[ClusterEventWithHint]] | None = None,
    ) -> None:
        self._sort_key = sort_key
        self._clock = clock or REAL_CLOCK
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable_duration = max_unschedulable_duration
        self._seq = itertools.count()
        self._active: list[_Entry] = []
        self._active_index: dict[str, _Entry] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_index: dict[str, tuple[float, QueuedPodInfo]] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: set[str] = set()
        self._timer: Cancellable | None = None
        self._timer_due: float | None = None
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        # event -> [(plugin, hint)]
        self._registrations: list[tuple[ClusterEvent, str, Callable[[PodInfo, Any, Any], bool] | None]] = []
        for plugin, events in (plugin_events or {}).items():
            self.register_events(plugin, events)

    def register_events(self, plugin: str, events: Iterable[ClusterEventWithHint]) -> None:
        for item in events:
            self._registrations.append((item.event, plugin, item.hint))

    # -- sizes (metrics, tests) ---------------------------------------------------------------

    @property
    def active_count(self) -> int:
        return len(self._active_index)

    @property
    def backoff_count(self) -> int:
        return len(self._backoff_index)

    @property
    def unschedulable_count(self) -> int:
        return len(self._unschedulable)

    def __len__(self) -> int:
        return self.active_count + self.backoff_count + self.unschedulable_count

    def __contains__(self, key: object) -> bool:
        return key in self._active_index or key in self._backoff_index or key in self._unschedulable

    def where(self, key: str) -> str | None:
        """``"active"``, ``"backoff"``, ``"unschedulable"``, ``"in-flight"`` or ``None``."""
        if key in self._active_index:
            return "active"
        if key in self._backoff_index:
            return "backoff"
        if key in self._unschedulable:
            return "unschedulable"
        if key in self._in_flight:
            return "in-flight"
        return None

    # -- the three queues ---------------------------------------------------------------------

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        entry = _Entry(self._sort_key(qpi), next(self._seq), qpi)
        self._active_index[qpi.key] = entry
        heapq.heappush(self._active, entry)
        self._wakeup.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        due = self.backoff_expiry(qpi)
        self._backoff_index[qpi.key] = (due, qpi)
        heapq.heappush(self._backoff, (due, next(self._seq), qpi.key))
        self._arm_timer()

    def _remove(self, key: str) -> QueuedPodInfo | None:
        entry = self._active_index.pop(key, None)
        if entry is not None:
            entry.alive = False
            return entry.qpi
        backoff = self._backoff_index.pop(key, None)
        if backoff is not None:
            return backoff[1]  # its heap tuple is skipped lazily
        return self._unschedulable.pop(key, None)

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        if qpi.attempts <= 0:
            return 0.0
        duration = self.initial_backoff
        for _ in range(1, qpi.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return min(duration, self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self._clock.now()

    # -- adding -------------------------------------------------------------------------------

    def add(self, pod: PodInfo) -> None:
        """A new unscheduled pod: straight to activeQ."""
        if self._closed:
            return
        key = pod.key
        if key in self._in_flight:
            return
        old = self._remove(key)
        qpi = QueuedPodInfo(pod, self._clock.now())
        if old is not None:
            qpi.attempts = old.attempts
            qpi.initial_attempt_timestamp = old.initial_attempt_timestamp
        self._push_active(qpi)

    def update(self, old: PodInfo | None, new: PodInfo) -> None:
        """An unscheduled pod changed: refresh it where it sits.

        A parked pod whose spec or labels changed may fit now, so it moves to
        backoffQ/activeQ; a status-only change (our own condition write) leaves
        it parked.
        """
        if self._closed:
            return
        key = new.key
        if key in self._in_flight:
            return
        entry = self._active_index.get(key)
        if entry is not None:
            entry.qpi.pod = new
            return
        backoff = self._backoff_index.get(key)
        if backoff is not None:
            backoff[1].pod = new
            return
        parked = self._unschedulable.get(key)
        if parked is not None:
            parked.pod = new
            if old is None or is_pod_updated(old, new):
                del self._unschedulable[key]
                if self.is_backing_off(parked):
                    self._push_backoff(parked)
                else:
                    self._push_active(parked)
            return
        self._push_active(QueuedPodInfo(new, self._clock.now()))

    def delete(self, key: str) -> None:
        self._remove(key)
        self._in_flight.discard(key)

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_scheduling_cycle: int) -> None:
        """Put back a pod whose cycle failed (see the module docs for where it goes)."""
        self._in_flight.discard(qpi.key)
        if self._closed or qpi.key in self:
            return
        qpi.timestamp = self._clock.now()
        if not qpi.unschedulable_plugins or self.move_request_cycle >= pod_scheduling_cycle:
            self._push_backoff(qpi)
        else:
            self._unschedulable[qpi.key] = qpi

    def done(self, key: str) -> None:
        """The pod's cycle ended without re-queueing it (scheduled, or gone)."""
        self._in_flight.discard(key)

    # -- popping ------------------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """Wait for and take the head of activeQ (raises :class:`QueueClosed`)."""
        while True:
            while self._active:
                entry = heapq.heappop(self._active)
                if not entry.alive:
                    continue
                qpi = entry.qpi
                del self._active_index[qpi.key]
                qpi.attempts += 1
                if qpi.initial_attempt_timestamp is None:
                    qpi.initial_attempt_timestamp = self._clock.now()
                self.scheduling_cycle += 1
                self._in_flight.add(qpi.key)
                return qpi
            if self._closed:
                raise QueueClosed
            self._wakeup.clear()
            await self._wakeup.wait()

    def pop_nowait(self) -> QueuedPodInfo | None:
        """:meth:`pop` without waiting (``None`` when activeQ is empty)."""
        if not self._active_index:
            return None
        while True:
            entry = heapq.heappop(self._active)
            if entry.alive:
                qpi = entry.qpi
                del self._active_index[qpi.key]
                qpi.attempts += 1
                if qpi.initial_attempt_timestamp is None:
                    qpi.initial_attempt_timestamp = self._clock.now()
                self.scheduling_cycle += 1
                self._in_flight.add(qpi.key)
                return qpi

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wakeup.set()

    # -- backoff flushing -----------------------------------------------------------------------

    def _arm_timer(self) -> None:
        while self._backoff and self._backoff[0][2] not in self._backoff_index:
            heapq.heappop(self._backoff)
        if not self._backoff or self._closed:
            return
        due = self._backoff[0][0]
        if self._timer is not None and self._timer_due is not None and self._timer_due <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._clock.call_later(due - self._clock.now(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_due = None
        self.flush_backoff_completed()

    def flush_backoff_completed(self) -> int:
        """Move every pod whose backoff has ended to activeQ; return how many."""
        now = self._clock.now()
        moved = 0
        while self._backoff:
            due, _, key = self._backoff[0]
            current = self._backoff_index.get(key)
            if current is None or current[0] != due:
                heapq.heappop(self._backoff)  # stale
                continue
            if due > now:
                break
            heapq.heappop(self._backoff)
            del self._backoff_index[key]
            self._push_active(current[1])
            moved += 1
        self._arm_timer()
        return moved

    def flush_unschedulable_leftover(self) -> int:
        """Release pods parked for longer than ``max_unschedulable_duration``."""
        now = self._clock.now()
        stale = [
            qpi
            for qpi in self._unschedulable.values()
            if now - qpi.timestamp > self.max_unschedulable_duration
        ]
        if stale:
            self._move(stale, UNSCHEDULABLE_TIMEOUT)
        return len(stale)

    async def run_housekeeping(self, period: float = 30.0) -> None:
        """Forever: release long-parked pods every ``period`` seconds."""
        while not self._closed:
            await self._clock.sleep(period)
            self.flush_unschedulable_leftover()

    # -- cluster events -------------------------------------------------------------------------

    def _pod_matches_event(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        if event.resource == "*":
            return True
        if not qpi.unschedulable_plugins:
            return True
        for registered, plugin, hint in self._registrations:
            if plugin not in qpi.unschedulable_plugins or not registered.matches(event):
                continue
            if hint is None:
                return True
            try:
                if hint(qpi.pod, old, new):
                    return True
            except Exception:
                log.exception("queueing hint of %s failed; assuming the event matters", plugin)
                return True
        return False

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """A cluster event happened: release the parked pods it may help (returns the count)."""
        candidates = [
            qpi for qpi in self._unschedulable.values() if self._pod_matches_event(qpi, event, old, new)
        ]
        self._move(candidates, event)
        return len(candidates)

    def _move(self, pods: list[QueuedPodInfo], event: ClusterEvent) -> None:
        for qpi in pods:
            del self._unschedulable[qpi.key]
            if self.is_backing_off(qpi):
                self._push_backoff(qpi)
            else:
                self._push_active(qpi)
        if pods:
            log.debug("%s moved %d parked pod(s) back to the queue", event, len(pods))
        self.move_request_cycle = self.scheduling_cycle

    def pending(self) -> dict[str, list[str]]:
        """Queue name -> pod keys (for debugging and tests)."""
        return {
            "active": sorted(self._active_index),
            "backoff": sorted(self._backoff_index),
            "unschedulable": sorted(self._unschedulable),
        }


def _scheduling_relevant(pod: PodInfo) -> tuple[Any, ...]:
    meta = pod.pod.get("metadata") or {}
    return (meta.get("labels"), meta.get("annotations"), pod.spec)


def is_pod_updated(old: PodInfo, new: PodInfo) -> bool:
    """Whether anything but status/resourceVersion changed (upstream ``isPodUpdated``)."""
    return _scheduling_relevant(old) != _scheduling_relevant(new)
