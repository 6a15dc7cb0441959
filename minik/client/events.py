"""Recording Events: what a controller decided, visible in ``kubectl describe``.

sample-controller's rule is that every decision worth knowing is recorded as a
core/v1 ``Event`` about the object it concerns ("Scheduled", "SuccessfulCreate",
"FailedMount"). :class:`EventRecorder` does that the way client-go's
``record.EventRecorder`` does, simplified:

* **Fire and forget.** :meth:`EventRecorder.event` only puts the event on a
  bounded in-memory queue and returns; one background task writes them. A slow
  or failing API server can never stall a reconcile because of an event, and an
  event that cannot be written is logged and dropped — Events are best-effort
  by design (when the queue is full, new events are dropped too).
* **Aggregation.** A controller stuck in a failure loop would otherwise create
  thousands of identical Events. Repeats of the same (object, type, reason,
  message) from the same component within ``aggregation_window`` seconds
  (10 minutes, like client-go's correlator) PATCH the existing Event's
  ``count`` and ``lastTimestamp`` instead of creating a new one. The writer
  handles events one at a time, in order, so two repeats can never race to
  create two Events. If the Event was deleted meanwhile (TTL), a fresh one is
  created. The cache of recent Events is a bounded LRU.
* **Shape.** ``involvedObject`` carries kind, namespace, name, uid, apiVersion
  and resourceVersion of the object; ``source.component``/``host`` say who
  reported it; ``firstTimestamp``/``lastTimestamp`` are second-precision
  ``Time``s; the Event lives in the object's namespace (``default`` for
  cluster-scoped objects such as Nodes) and is named
  ``<object name>.<hex nanoseconds>`` as client-go names it.

* **Spam filter.** Like client-go's ``EventSourceObjectSpamFilter``, each
  (component, host, object) has a token bucket of ``spam_burst`` events (25)
  refilled at ``spam_qps`` (one per five minutes): a ReplicaSet scaled to 1000
  records its first 25 "SuccessfulCreate" Events, not 1000 of them — the
  writes would otherwise compete with the pod creates they describe.

Not done here: client-go's *similar-event* aggregation (ten events differing
only in message collapse into one "combined from similar events").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from minik.client.clock import REAL_CLOCK, Clock
from minik.client.errors import APIConnectionError, APIError, NotFoundError
from minik.client.kinds import EVENTS, ResourceRef
from minik.client.objects import Obj, format_time, metadata

log = logging.getLogger(__name__)

NORMAL = "Normal"
#: A full queue logs its first dropped event, then every this many, as a warning.
DROP_LOG_EVERY = 100
WARNING = "Warning"


class EventClient(Protocol):
    """The two verbs the recorder needs (:class:`~minik.client.rest.APIClient` has them)."""

    async def create(self, resource: ResourceRef, obj: Obj, *, namespace: str | None = None) -> Obj: ...

    async def patch(
        self, resource: ResourceRef, name: str, body: Obj, *, namespace: str | None = None, type: str = ...
    ) -> Obj: ...


@dataclass(slots=True)
class _Recorded:
    name: str
    namespace: str
    count: int
    last_seen: float


@dataclass(frozen=True, slots=True)
class _Pending:
    involved: Obj
    type: str
    reason: str
    message: str


def object_reference(obj: Obj) -> Obj:
    """The ``involvedObject`` reference for an object (or pass a reference through)."""
    if "metadata" not in obj:  # already an ObjectReference
        return {k: v for k, v in obj.items() if v not in (None, "")}
    meta = metadata(obj)
    ref: dict[str, Any] = {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "apiVersion": obj.get("apiVersion"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v not in (None, "")}


class EventRecorder:
    """Writes Events for ``component`` (and ``host``), aggregated and asynchronous."""

    def __init__(
        self,
        client: EventClient,
        component: str,
        host: str | None = None,
        *,
        aggregation_window: float = 600.0,
        max_queued: int = 1000,
        cache_size: int = 4096,
        spam_burst: int = 25,
        spam_qps: float = 1.0 / 300.0,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.aggregation_window = aggregation_window
        self.cache_size = cache_size
        self._clock = clock or REAL_CLOCK
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queued)
        self._recent: OrderedDict[tuple[Any, ...], _Recorded] = OrderedDict()
        self._worker: asyncio.Task[None] | None = None
        self._last_suffix = 0
        self._closed = False
        self.spam_burst = spam_burst
        self.spam_qps = spam_qps
        self._buckets: OrderedDict[tuple[Any, ...], tuple[float, float]] = OrderedDict()
        self.dropped = 0
        self.spam_filtered = 0

    # -- the caller's side ------------------------------------------------------------------------

    def event(self, obj: Obj, type: str, reason: str, message: str) -> None:
        """Record an event about ``obj``; returns at once (see the module docs).

        ``type`` is ``"Normal"`` or ``"Warning"``; ``reason`` is a short
        UpperCamelCase word (``"SuccessfulCreate"``); ``message`` is for people.
        """
        if type not in (NORMAL, WARNING):
            raise ValueError(f"event type must be {NORMAL!r} or {WARNING!r}, not {type!r}")
        if self._closed:
            log.debug("event recorder closed; dropping %s %s", reason, message)
            return
        involved = object_reference(obj)
        if not self._take_token(involved):
            self.spam_filtered += 1
            log.debug("spam filter: dropping %s for %s: %s", reason, involved.get("name"), message)
            return
        try:
            self._queue.put_nowait(_Pending(involved, type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1
            # A thousand pods starting at once would otherwise log a thousand lines.
            level = (
                logging.WARNING if self.dropped == 1 or self.dropped % DROP_LOG_EVERY == 0 else logging.DEBUG
            )
            log.log(
                level,
                "event queue full; dropping event %s for %s: %s (%d dropped so far)",
                reason,
                involved.get("name"),
                message,
                self.dropped,
            )
            return
        self._ensure_worker()

    def _take_token(self, involved: Obj) -> bool:
        """One token from this object's bucket (client-go's per-source-and-object spam filter)."""
        key = (self.component, self.host, *(involved.get(k) for k in ("kind", "namespace", "name", "uid")))
        now = self._clock.now()
        tokens, last = self._buckets.pop(key, (float(self.spam_burst), now))
        tokens = min(float(self.spam_burst), tokens + (now - last) * self.spam_qps)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.cache_size:
            self._buckets.popitem(last=False)
        return allowed

    def eventf(self, obj: Obj, type: str, reason: str, fmt: str, *args: object) -> None:
        """:meth:`event` with ``%``-formatting, like client-go's ``Eventf``."""
        self.event(obj, type, reason, fmt % args if args else fmt)

    async def flush(self) -> None:
        """Wait until every queued event has been written (or given up on)."""
        if self._worker is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop the background task."""
        self._closed = True
        await self.flush()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    # -- the writer -------------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), name=f"events {self.component}"
            )

    async def _run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing event %s failed", pending.reason)
            finally:
                self._queue.task_done()

    def _cache_key(self, p: _Pending) -> tuple[Any, ...]:
        inv = p.involved
        return (
            inv.get("kind"),
            inv.get("namespace"),
            inv.get("name"),
            inv.get("uid"),
            p.type,
            p.reason,
            p.message,
            self.component,
            self.host,
        )

    async def _write(self, p: _Pending) -> None:
        key = self._cache_key(p)
        now = self._clock.now()
        stamp = format_time(self._clock.wall())
        recent = self._recent.get(key)
        if recent is not None and now - recent.last_seen <= self.aggregation_window:
            count = recent.count + 1
            try:
                await self.client.patch(
                    EVENTS,
                    recent.name,
                    {"count": count, "lastTimestamp": stamp},
                    namespace=recent.namespace,
                    type="merge",
                )
            except NotFoundError:
                self._recent.pop(key, None)  # expired or deleted: start a new one
            except (APIError, APIConnectionError) as exc:
                log.warning("cannot update event %s/%s: %s", recent.namespace, recent.name, exc)
                return
            else:
                recent.count = count
                recent.last_seen = now
                self._recent.move_to_end(key)
                return

        namespace = str(p.involved.get("namespace") or "default")
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": self._event_name(str(p.involved.get("name") or "unknown")),
                "namespace": namespace,
            },
            "involvedObject": p.involved,
            "reason": p.reason,
            "message": p.message,
            "type": p.type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host or "",
        }
        try:
            created = await self.client.create(EVENTS, body, namespace=namespace)
        except (APIError, APIConnectionError) as exc:
            log.warning(
                "cannot write event %s for %s/%s: %s", p.reason, namespace, p.involved.get("name"), exc
            )
            return
        name = str(metadata(created).get("name") or body["metadata"]["name"])
        self._recent[key] = _Recorded(name=name, namespace=namespace, count=1, last_seen=now)
        self._recent.move_to_end(key)
        while len(self._recent) > self.cache_size:
            self._recent.popitem(last=False)

    def _event_name(self, object_name: str) -> str:
        wall = self._clock.wall()
        suffix = int(wall.timestamp()) * 1_000_000_000 + wall.microsecond * 1000
        if suffix <= self._last_suffix:
            suffix = self._last_suffix + 1
        self._last_suffix = suffix
        return f"{object_name}.{suffix:x}"
