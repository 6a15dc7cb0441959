"""Informers: a local, always-current cache of one resource, plus change callbacks.

An :class:`Informer` is client-go's reflector + store + shared-informer in one
object. It keeps an :class:`~minik.client.store.Indexer` in step with the API
server and tells registered handlers what changed::

    list (paged) ──▶ replace store, emit the difference ──▶ watch from list's RV
        ▲                                                      │ ADDED/MODIFIED/DELETED → store + handlers
        │                                                      │ BOOKMARK → only the RV moves
        └──────────── 410 Gone / server error ◀────────────────┘
                    (connection broke? re-watch from the last RV after backoff)

**resourceVersion bookkeeping.** The list answers a snapshot at some
resourceVersion R; the watch started from R delivers exactly the changes after
R, each stamped with its own version, which the informer remembers. Bookmarks
(``allowWatchBookmarks``) are empty events that only move that version forward,
so that after a quiet period a re-watch does not start from a version the
server has already compacted away.

**Why relisting must diff.** When the server answers 410 Gone (the remembered
version is older than its history), events between that version and now are
lost for good. The only way back is a fresh list, and the handlers must learn
what changed *during the gap*. The informer compares the new list with its
store, key by key:

* in the list, not in the store → ``on_add``;
* in both with a different ``resourceVersion`` → ``on_update(old, new)``;
  (same key but a different ``uid`` means the object was deleted and re-created
  in the gap → ``on_delete(old)`` then ``on_add(new)``);
* in the store, not in the list → ``on_delete(last known state)``;
* in both with the same ``resourceVersion`` → nothing.

Nothing is lost (every difference is reported) and nothing is invented (an
unchanged object produces no event). The first list is the same diff against
an empty store, which is why it produces one ``on_add`` per object. client-go
hands a ``DeletedFinalStateUnknown`` tombstone to ``on_delete`` in the vanished
case; minik passes the last state it knew, since dicts need no wrapper to say
"possibly stale".

**Broken streams.** A watch that ends normally (the server's ``timeoutSeconds``
elapsed) is re-opened from the remembered version at once. A connection error
re-opens it after exponential backoff (0.8 s doubling to 30 s, with jitter, as
client-go's reflector does); if the server no longer has that version it says
410 and the informer relists. Any other error answer relists after backoff.
Watches are opened with a random ``timeoutSeconds`` between 5 and 10 minutes
so that many informers do not reconnect in lock-step.

**Handlers** run inline in the informer's task, in event order, after the
store is updated (so a handler reading the cache sees at least that object).
They must be quick and must not block: enqueue a key into a
:class:`~minik.client.workqueue.WorkQueue` and return; the reconcile does the
work. A handler that raises is logged and does not disturb the informer or the
other handlers. A handler registered after the informer has synced is first
told about every cached object with ``on_add`` (client-go does the same), so
late registration does not miss anything.

**Resync** (``resync_period``) periodically calls ``on_update(obj, obj)`` for
every cached object. It is not a relist — nothing is fetched — it is a
heartbeat that lets controllers re-check state the API does not reflect (an
external system drifting).

**Sharing.** Every informer costs a list and a long-lived watch connection,
and its cache costs memory. :class:`SharedInformerFactory` hands out one
informer per (resource, namespace, selectors), so all controllers in a process
share one cache and one watch per resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from minik.client.clock import REAL_CLOCK, Clock
from minik.client.errors import APIConnectionError, APIError, GoneError
from minik.client.kinds import ResourceRef, resolve
from minik.client.objects import Obj, metadata, resource_version_of, uid_of
from minik.client.rest import EventStream, list_all
from minik.client.store import Indexer, IndexFunc

log = logging.getLogger(__name__)

AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]


class ListWatcher(Protocol):
    """What an informer needs from a client: :class:`~minik.client.rest.APIClient`
    is one; tests pass an in-memory fake."""

    async def list(
        self,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> Obj: ...

    def watch(
        self,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> EventStream: ...


@dataclass(eq=False)
class EventHandler:
    """One registration of callbacks; any of the three may be left out."""

    on_add: AddHandler | None = None
    on_update: UpdateHandler | None = None
    on_delete: DeleteHandler | None = None


class Backoff:
    """Exponential backoff with jitter: ``initial * factor**n`` capped at ``maximum``."""

    def __init__(
        self,
        *,
        initial: float = 0.8,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._current = initial

    def next(self) -> float:
        delay = self._current
        self._current = min(self._current * self.factor, self.maximum)
        return delay * (1.0 + self.jitter * self._rng.random())

    def reset(self) -> None:
        self._current = self.initial


class Informer:
    """A cache of one resource kept current by list + watch (see the module docs)."""

    def __init__(
        self,
        client: ListWatcher,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        page_size: int = 500,
        min_watch_timeout: float = 300.0,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.resource = resolve(resource)
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.store = Indexer(indexers)
        self._backoff = backoff or Backoff()
        self._clock = clock or REAL_CLOCK
        self._handlers: list[EventHandler] = []
        self._resource_version: str | None = None
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random()
        #: How many times the informer has listed (1 after the initial sync).
        self.list_count = 0

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"<Informer {self.resource}{where}>"

    # -- state ------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str | None:
        """The last resourceVersion seen (from the list, an event or a bookmark)."""
        return self._resource_version

    @property
    def has_synced(self) -> bool:
        """True once the first list has been stored and handed to the handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until :attr:`has_synced`; ``False`` if ``timeout`` passes first."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def get(self, key: str) -> Obj | None:
        """The cached object for ``namespace/name`` (shared: do not mutate)."""
        return self.store.get_by_key(key)

    def list(self, *, namespace: str | None = None) -> list[Obj]:
        """Cached objects (shared: do not mutate)."""
        return self.store.list(namespace=namespace)

    # -- handlers ---------------------------------------------------------------------------------

    def add_event_handler(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> EventHandler:
        """Register callbacks; returns a handle for :meth:`remove_event_handler`."""
        handler = EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add is not None and len(self.store):
            for obj in self.store.list():
                self._call(on_add, obj)
        return handler

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)

    def _call(self, func: Callable[..., None], *args: Obj) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("%r: event handler %s failed", self, getattr(func, "__qualname__", func))

    def _emit_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` in a background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer {self.resource}")
        return self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Cancel the background task and wait for it to end."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """List and watch until cancelled."""
        resync = None
        if self.resync_period:
            resync = asyncio.create_task(
                self._resync_loop(self.resync_period), name=f"resync {self.resource}"
            )
        try:
            await self._reflect()
        finally:
            if resync is not None:
                resync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resync

    async def _reflect(self) -> None:
        need_list = True
        relisted_without_progress = False
        while True:
            try:
                if need_list:
                    await self._list_and_replace()
                    need_list = False
                started = self._clock.now()
                delivered = await self._watch_once()
                if delivered:
                    self._backoff.reset()
                    relisted_without_progress = False
                elif self._clock.now() - started < 1.0:
                    # A watch that closes at once with nothing in it: don't spin.
                    await self._clock.sleep(self._backoff.next())
            except GoneError as exc:
                log.info(
                    "%r: watch from resourceVersion %s expired (%s); relisting",
                    self,
                    self._resource_version,
                    exc,
                )
                need_list = True
                if relisted_without_progress:
                    await self._clock.sleep(self._backoff.next())
                relisted_without_progress = True
            except APIConnectionError as exc:
                delay = self._backoff.next()
                log.warning("%r: %s; retrying in %.1fs", self, exc, delay)
                await self._clock.sleep(delay)
            except APIError as exc:
                delay = self._backoff.next()
                log.warning(
                    "%r: %s %s: %s; relisting in %.1fs", self, exc.code, exc.reason, exc.message, delay
                )
                need_list = True
                await self._clock.sleep(delay)
            except Exception:
                # A bug or a malformed object must not kill the informer for good:
                # every consumer of its cache would silently go stale.
                delay = self._backoff.next()
                log.exception("%r: unexpected error; relisting in %.1fs", self, delay)
                need_list = True
                await self._clock.sleep(delay)

    async def _list_and_replace(self) -> None:
        listed = await list_all(
            self.client,
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        )
        items = [self._typed(o) for o in listed.get("items") or []]
        self._replace(items)
        self._resource_version = str(metadata(listed).get("resourceVersion") or "") or None
        self.list_count += 1
        self._synced.set()

    async def _watch_once(self) -> bool:
        """One watch connection; returns whether it delivered any event."""
        delivered = False
        timeout = int(self.min_watch_timeout * (1.0 + self._rng.random()))
        stream = self.client.watch(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self._resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
        )
        async with contextlib.aclosing(stream):
            async for event_type, obj in stream:
                self._apply(event_type, obj)
                delivered = True
        return delivered

    # -- applying changes -------------------------------------------------------------------------

    def _typed(self, obj: Obj) -> Obj:
        # List items come without kind/apiVersion (the list carries them); watch
        # events have them. Fill them in so every cached object looks the same.
        if "kind" not in obj:
            obj["kind"] = self.resource.kind
        if "apiVersion" not in obj:
            obj["apiVersion"] = self.resource.api_version
        return obj

    def _apply(self, event_type: str, obj: Obj) -> None:
        rv = resource_version_of(obj)
        if event_type == "BOOKMARK":
            if rv:
                self._resource_version = rv
            return
        obj = self._typed(obj)
        if event_type in ("ADDED", "MODIFIED"):
            key = self.store.key_of(obj)
            old = self.store.get_by_key(key)
            self.store.add(obj)
            if old is None:
                self._emit_add(obj)
            else:
                self._emit_update(old, obj)
        elif event_type == "DELETED":
            self.store.delete(obj)
            self._emit_delete(obj)
        else:
            log.warning("%r: ignoring watch event of unknown type %r", self, event_type)
            return
        if rv:
            self._resource_version = rv

    def _replace(self, items: Iterable[Obj]) -> None:
        fresh: dict[str, Obj] = {}
        for obj in items:
            fresh[self.store.key_of(obj)] = obj
        for key in self.store.list_keys():
            if key not in fresh:
                old = self.store.delete_key(key)
                if old is not None:
                    self._emit_delete(old)
        for key, obj in fresh.items():
            old = self.store.get_by_key(key)
            if old is None:
                self.store.add(obj)
                self._emit_add(obj)
            elif uid_of(old) != uid_of(obj):
                self.store.add(obj)
                self._emit_delete(old)
                self._emit_add(obj)
            elif resource_version_of(old) != resource_version_of(obj):
                self.store.add(obj)
                self._emit_update(old, obj)

    async def _resync_loop(self, period: float) -> None:
        while True:
            await self._clock.sleep(period)
            if not self.has_synced:
                continue
            for obj in self.store.list():
                # Skip objects deleted by an earlier handler call of this same pass.
                if self.store.get_by_key(self.store.key_of(obj)) is obj:
                    self._emit_update(obj, obj)


async def wait_for_cache_sync(*informers: Informer, timeout: float | None = None) -> bool:
    """Wait until every informer has synced; ``False`` if ``timeout`` passes first."""
    try:
        async with asyncio.timeout(timeout):
            for informer in informers:
                await informer.wait_for_sync()
    except TimeoutError:
        return False
    return True


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for a whole process.

    Ask for informers while wiring controllers, then :meth:`start` them all,
    :meth:`wait_for_sync`, and start the controllers' workers. Informers asked
    for after :meth:`start` are started right away.
    """

    def __init__(
        self,
        client: ListWatcher,
        *,
        namespace: str | None = None,
        resync_period: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.resync_period = resync_period
        self._clock = clock
        self._informers: dict[tuple[ResourceRef, str | None, str | None, str | None], Informer] = {}
        self._started = False

    def informer(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> Informer:
        """The shared informer for this resource (created on first request).

        ``indexers`` are added to a shared informer's store if not there yet.
        """
        ref = resolve(resource)
        ns = (namespace or self.namespace) if ref.namespaced else None
        key = (ref, ns, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                self.client,
                ref,
                namespace=ns,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period,
                clock=self._clock,
            )
            self._informers[key] = informer
            if self._started:
                informer.start()
        if indexers:
            missing = {n: f for n, f in indexers.items() if n not in informer.store.index_names}
            if missing:
                informer.store.add_indexers(missing)
        return informer

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        return await wait_for_cache_sync(*self._informers.values(), timeout=timeout)

    async def shutdown(self) -> None:
        self._started = False
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
