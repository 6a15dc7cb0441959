"""``watchcache.py`` (through ``Storage.watch``), in-process over a real etcd.

What a watch promises its client: every change after the resourceVersion it names,
in order; 410 when that version has left the history; bookmarks when asked for; and,
for a client that stops reading, an end to its stream rather than an unbounded buffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from minik.apiserver.rest import DeleteOptions, ListOptions, Storage
from minik.apiserver.watchcache import Bookmark, Closed, Event, Watcher, WatchItem
from tests.apiserver.inprocess import Obj, api_error, configmap, new_namespace, open_storage, resource
from tests.conftest import Etcd

DEADLINE = 10.0


@pytest.fixture()
async def storage(etcd_server: Etcd) -> AsyncIterator[Storage]:
    # A short history (twice the capacity changes per resource before it is cut), frequent
    # bookmarks and small watcher buffers, so each limit is reached in a few writes.
    async with open_storage(etcd_server.url, capacity=3, bookmark_interval=0.2, watch_buffer=4) as s:
        yield s


async def next_item(w: Watcher) -> WatchItem:
    return await asyncio.wait_for(w.queue.get(), DEADLINE)


async def next_event(w: Watcher) -> Event:
    """The next object event, passing over bookmarks."""
    while True:
        item = await next_item(w)
        if isinstance(item, Event):
            return item
        assert isinstance(item, Bookmark), item


def rv_of(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def test_a_watch_from_a_resource_version_replays_what_came_after_then_follows(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    created = await storage.create(cms, ns, configmap("a", {"n": "0"}))
    await storage.update(cms, ns, "a", configmap("a", {"n": "1"}))
    await storage.create(cms, ns, configmap("b"))

    watcher, initial, end_rev = await storage.watch(
        cms, ns, ListOptions(resource_version=str(rv_of(created)))
    )
    try:
        assert end_rev is None
        assert [(e.type, e.entry.obj["metadata"]["name"]) for e in initial] == [
            ("MODIFIED", "a"),
            ("ADDED", "b"),
        ]
        assert initial[0].entry.obj["data"] == {"n": "1"}
        revs = [e.entry.rev for e in initial]
        assert revs == sorted(revs) and revs[0] > rv_of(created)

        await storage.delete(cms, ns, "b", _now())
        live = await next_event(watcher)
        assert (live.type, live.entry.obj["metadata"]["name"]) == ("DELETED", "b")
        assert live.entry.rev > revs[-1]
    finally:
        watcher.close()


async def test_a_watch_sees_only_its_namespace_and_selector(storage: Storage) -> None:
    ns, other = await new_namespace(storage), await new_namespace(storage)
    cms = resource(storage, "configmaps")
    watcher, initial, _ = await storage.watch(cms, ns, ListOptions(label_selector="app=web"))
    try:
        assert initial == []
        await storage.create(cms, other, configmap("elsewhere", labels={"app": "web"}))
        await storage.create(cms, ns, configmap("db", labels={"app": "db"}))
        await storage.create(cms, ns, configmap("web", labels={"app": "web"}))
        added = await next_event(watcher)
        assert (added.type, added.entry.obj["metadata"]["name"]) == ("ADDED", "web")
        # An object that stops matching the selector leaves the watch as DELETED.
        await storage.update(cms, ns, "web", configmap("web", labels={"app": "other"}))
        left = await next_event(watcher)
        assert (left.type, left.entry.obj["metadata"]["name"]) == ("DELETED", "web")
    finally:
        watcher.close()


async def test_a_resource_version_older_than_the_history_is_410_gone(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    first = await storage.create(cms, ns, configmap("c-0"))
    last = first
    for i in range(1, 10):  # more than twice the capacity changes: the window moves past the first
        last = await storage.create(cms, ns, configmap(f"c-{i}"))
    assert await storage.cache.wait_for(rv_of(last), DEADLINE)
    gone = await api_error(storage.watch(cms, ns, ListOptions(resource_version=str(rv_of(first)))))
    assert (gone.code, gone.reason) == (410, "Expired")
    assert "too old resource version" in gone.message
    # A recent version still works.
    watcher, initial, _ = await storage.watch(cms, ns, ListOptions(resource_version=str(rv_of(last))))
    watcher.close()
    assert initial == []


async def test_bookmarks_go_only_to_watchers_that_asked(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    plain, _, _ = await storage.watch(cms, ns, ListOptions())
    marked, _, _ = await storage.watch(cms, ns, ListOptions(allow_bookmarks=True))
    try:
        item = await next_item(marked)
        assert isinstance(item, Bookmark) and item.rev <= storage.cache.rev
        # Bookmarks are offered to every watcher at once: the plain one got none.
        assert plain.queue.empty()
    finally:
        plain.close()
        marked.close()


async def test_send_initial_events_ends_with_the_initial_events_end_revision(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    await storage.create(cms, ns, configmap("x"))
    await storage.create(cms, ns, configmap("y"))
    opts = ListOptions(send_initial_events=True, resource_version_match="NotOlderThan", allow_bookmarks=True)
    watcher, initial, end_rev = await storage.watch(cms, ns, opts)
    watcher.close()
    assert [(e.type, e.entry.obj["metadata"]["name"]) for e in initial] == [("ADDED", "x"), ("ADDED", "y")]
    assert end_rev is not None and end_rev >= max(e.entry.rev for e in initial)

    refused = await api_error(storage.watch(cms, ns, ListOptions(send_initial_events=True)))
    assert refused.code == 422


async def test_a_watcher_that_stops_reading_is_closed_not_buffered(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    slow, _, _ = await storage.watch(cms, ns, ListOptions())
    reader, _, _ = await storage.watch(cms, ns, ListOptions())
    closed_before = storage.cache.cache(cms).closed_slow
    try:
        for i in range(6):  # the buffer holds 4
            await storage.create(cms, ns, configmap(f"s-{i}"))
            event = await next_event(reader)  # a reader that keeps up sees every one
            assert event.entry.obj["metadata"]["name"] == f"s-{i}"
        assert slow.closed and slow not in storage.cache.cache(cms).watchers
        items = []
        while not slow.queue.empty():
            items.append(slow.queue.get_nowait())
        assert len(items) == 1 and isinstance(items[0], Closed)  # the buffered events were let go
        assert storage.cache.cache(cms).closed_slow == closed_before + 1
        assert not reader.closed
    finally:
        slow.close()
        reader.close()


def _now() -> DeleteOptions:
    return DeleteOptions(grace_period_seconds=0)
