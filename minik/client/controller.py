"""The reconcile loop: informer events → keys → a work queue → workers → reconcile.

This is controller-runtime's contract on top of client-go's machinery::

    informer ──on_add/on_update/on_delete──▶ handler: key = "ns/name" ──▶ WorkQueue
                                                                            │ get()
                                    workers (N tasks) ◀──────────────────────┘
                                    result = await reconcile(key)
                                      raised        → add_rate_limited(key)   (backoff)
                                      requeue_after → forget; add_after(key, t)
                                      requeue       → add_rate_limited(key)
                                      otherwise     → forget(key)
                                    done(key)

The reconciler gets a *key*, never the event: it reads the current object
from the informer cache (absent → it was deleted), compares desired with
actual state and acts. That is level triggering — if ten events arrived, or one
was missed and a relist stood in for it, the reconcile does the same thing,
because it looks at state, not at history. It must therefore be idempotent.

Guarantees that come from the :class:`~minik.client.workqueue.WorkQueue`:
one key is never reconciled by two workers at once; a change that arrives while
its key is being reconciled triggers exactly one more pass afterwards; failing
keys back off exponentially per key (5 ms → 1000 s) under an overall token
bucket, and a success resets the key's backoff.

Handlers only map events to keys. :meth:`Controller.enqueue_object` enqueues
the object's own key; :meth:`Controller.enqueue_owner` enqueues the key of the
object's *controller* owner (the ``ownerReferences`` entry with
``controller: true``) when it is of the given kind — how a ReplicaSet
controller hears about its pods. On updates both the old and the new owner are
enqueued, since an adoption or orphaning changes two owners.

Shutdown: cancelling :meth:`Controller.run` shuts the queue down, lets each
worker finish the key it holds (up to ``shutdown_timeout`` seconds), then
cancels what is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from minik.client.clock import Clock
from minik.client.errors import ConflictError
from minik.client.informer import EventHandler, Informer, wait_for_cache_sync
from minik.client.objects import Obj, controller_ref, group_of, make_key, namespace_of, object_key
from minik.client.workqueue import RateLimiter, ShutDown, WorkQueue, default_controller_rate_limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for next.

    ``Result()`` (or returning ``None``) means done: forget the key's backoff.
    ``requeue_after=t`` means look again in ``t`` seconds (e.g. to expire
    something), without counting as a failure. ``requeue=True`` means try again
    with backoff, without being an error worth logging.
    """

    requeue_after: float | None = None
    requeue: bool = False


Reconciler = Callable[[str], Awaitable[Result | None]]


class Controller:
    """Runs ``reconcile(key)`` on ``workers`` tasks over a work queue."""

    def __init__(
        self,
        name: str,
        reconcile: Reconciler,
        *,
        workers: int = 1,
        queue: WorkQueue[str] | None = None,
        rate_limiter: RateLimiter[str] | None = None,
        clock: Clock | None = None,
        shutdown_timeout: float = 10.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.name = name
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.queue: WorkQueue[str] = queue or WorkQueue(
            name=name, clock=clock, rate_limiter=rate_limiter or default_controller_rate_limiter(clock=clock)
        )
        self._reconcile = reconcile
        self.reconcile_count = 0
        self.error_count = 0

    def __repr__(self) -> str:
        return f"<Controller {self.name}>"

    # -- handlers: events → keys ------------------------------------------------------------------

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: str, delay: float) -> None:
        self.queue.add_after(key, delay)

    def enqueue_object(self, obj: Obj) -> None:
        """Enqueue ``obj``'s own ``namespace/name`` key (usable as any handler)."""
        try:
            self.queue.add(object_key(obj))
        except ValueError:
            log.warning("%r: cannot enqueue object without a name: %.200r", self, obj)

    def enqueue_owner(
        self, kind: str, *, api_group: str | None = None, owner_namespaced: bool = True
    ) -> Callable[[Obj], None]:
        """A handler that enqueues the key of ``obj``'s controller owner of ``kind``.

        ``api_group`` (``"apps"``; ``""`` for core) narrows the match when two
        groups have a kind of the same name. Owners are in the object's
        namespace (Kubernetes forbids cross-namespace owners), or cluster-scoped
        with ``owner_namespaced=False``.
        """

        def handler(obj: Obj) -> None:
            ref = controller_ref(obj)
            if ref is None or ref.get("kind") != kind or not ref.get("name"):
                return
            if api_group is not None and group_of(str(ref.get("apiVersion", ""))) != api_group:
                return
            ns = namespace_of(obj) if owner_namespaced else None
            self.queue.add(make_key(ns, str(ref["name"])))

        return handler

    def watch(self, informer: Informer) -> EventHandler:
        """Enqueue the key of every object of ``informer`` that is added, changes or goes."""
        return informer.add_event_handler(
            on_add=self.enqueue_object,
            on_update=lambda old, new: self.enqueue_object(new),
            on_delete=self.enqueue_object,
        )

    def watch_owned(
        self,
        informer: Informer,
        owner_kind: str,
        *,
        api_group: str | None = None,
        owner_namespaced: bool = True,
    ) -> EventHandler:
        """Enqueue the controller owner (of ``owner_kind``) of ``informer``'s objects."""
        enqueue = self.enqueue_owner(owner_kind, api_group=api_group, owner_namespaced=owner_namespaced)

        def on_update(old: Obj, new: Obj) -> None:
            enqueue(new)
            if controller_ref(old) != controller_ref(new):
                enqueue(old)

        return informer.add_event_handler(on_add=enqueue, on_update=on_update, on_delete=enqueue)

    # -- workers ----------------------------------------------------------------------------------

    async def run(self, *, wait_for: Iterable[Informer] = ()) -> None:
        """Wait for the informers' caches, then run the workers until cancelled
        (or until :meth:`shut_down`)."""
        informers = list(wait_for)
        if informers:
            log.info("%r: waiting for %d informer cache(s) to sync", self, len(informers))
            await wait_for_cache_sync(*informers)
        log.info("%r: starting %d worker(s)", self, self.workers)
        tasks = [
            asyncio.create_task(self._worker(), name=f"{self.name} worker {i}") for i in range(self.workers)
        ]
        try:
            # Not gather(): cancelling a gather cancels the workers mid-reconcile at
            # once, and shutdown is supposed to let them finish the key they hold.
            await asyncio.wait(tasks)
        finally:
            self.queue.shut_down()
            pending = [t for t in tasks if not t.done()]
            if pending:
                _, still = await asyncio.wait(pending, timeout=self.shutdown_timeout)
                for task in still:
                    task.cancel()
                for task in still:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            log.info("%r: stopped", self)
        for task in tasks:
            failure = None if task.cancelled() else task.exception()
            if failure is not None:
                raise failure

    def shut_down(self) -> None:
        """Stop handing out keys; workers exit after the key they hold."""
        self.queue.shut_down()

    async def _worker(self) -> None:
        while not self.queue.shutting_down:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            await self._process(key)

    async def process_one(self) -> bool:
        """Take one key (waiting for it) and reconcile it; ``False`` if shut down.

        For tests and for callers that drive the loop themselves.
        """
        try:
            key = await self.queue.get()
        except ShutDown:
            return False
        await self._process(key)
        return True

    async def _process(self, key: str) -> None:
        self.reconcile_count += 1
        try:
            result = await self._reconcile(key)
        except asyncio.CancelledError:
            self.queue.done(key)
            raise
        except ConflictError as exc:
            # Routine: our cache was behind a write. Retry soon, no traceback.
            self.error_count += 1
            log.info("%r: reconcile %s: conflict (%s); requeued", self, key, exc.message)
            self.queue.add_rate_limited(key)
            self.queue.done(key)
            return
        except Exception:
            self.error_count += 1
            log.exception(
                "%r: reconcile %s failed (requeue #%d)", self, key, self.queue.num_requeues(key) + 1
            )
            self.queue.add_rate_limited(key)
            self.queue.done(key)
            return
        if result is not None and result.requeue_after is not None and result.requeue_after > 0:
            self.queue.forget(key)
            self.queue.add_after(key, result.requeue_after)
        elif result is not None and result.requeue:
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        self.queue.done(key)
