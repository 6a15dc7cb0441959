"""The pure parts of the limits: bounded watch buffers, health reports, etcd error mapping."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from minik.apiserver import etcd, health, storage_errors
from minik.apiserver.registry import Registry
from minik.apiserver.turnstile import Turnstile
from minik.apiserver.watchcache import (
    Bookmark,
    Change,
    Closed,
    Entry,
    Event,
    ResourceCache,
    Watcher,
    WatchItem,
)


def cache() -> ResourceCache:
    rt = Registry().lookup("", "v1", "configmaps")
    assert rt is not None
    return ResourceCache(rt, capacity=10)


def change(i: int) -> Change:
    entry = Entry({"metadata": {"name": f"cm-{i}", "namespace": "default"}}, i)
    return Change("ADDED", entry, None, i)


def drain(w: Watcher) -> list[WatchItem]:
    items: list[WatchItem] = []
    while not w.queue.empty():
        items.append(w.queue.get_nowait())
    return items


def test_a_watcher_that_keeps_up_gets_every_event_in_order() -> None:
    async def main() -> None:
        c = cache()
        w = Watcher(c, None, lambda obj: True, bookmarks=True, buffer=3)
        c.watchers.add(w)
        for i in range(1, 4):
            w.offer(change(i))
        w.offer_bookmark(3)  # the buffer is full now: this one is one too many
        assert w.closed and w not in c.watchers and c.closed_slow == 1

        w2 = Watcher(c, None, lambda obj: True, bookmarks=True, buffer=3)
        w2.offer(change(1))
        w2.offer_bookmark(1)
        items = drain(w2)
        assert [type(i) for i in items] == [Event, Bookmark]
        assert isinstance(items[0], Event) and items[0].type == "ADDED" and items[0].entry.rev == 1
        for i in range(2, 10):  # a reader that drains as it goes is never closed
            c_i = change(i)
            w2.offer(c_i)
            assert drain(w2) == [Event("ADDED", c_i.entry)]
        assert not w2.closed

    asyncio.run(main())


def test_closing_a_slow_watcher_frees_its_buffer_and_ends_the_stream() -> None:
    async def main() -> None:
        c = cache()
        w = Watcher(c, None, lambda obj: True, bookmarks=False, buffer=100)
        c.watchers.add(w)
        for i in range(101):
            w.offer(change(i))
        assert w.closed
        assert drain(w) == [Closed("the client is not keeping up")]  # nothing else kept
        w.offer(change(200))  # later changes are not queued for a closed watch
        assert w.queue.empty()

    asyncio.run(main())


def test_health_report_renders_like_upstream() -> None:
    async def ok() -> str | None:
        return None

    async def down() -> str | None:
        return "connection refused"

    checks = [("ping", ok), ("etcd", down), ("watch-cache", ok)]
    report = asyncio.run(health.run_checks(checks))
    assert not report.passed
    assert report.render("readyz", verbose=False) == (
        "[+]ping ok\n[-]etcd failed: reason withheld\n[+]watch-cache ok\nreadyz check failed\n"
    )
    report = asyncio.run(health.run_checks(checks, exclude=["etcd", "nope"]))
    assert report.passed and report.render("readyz", verbose=False) == "ok"
    assert report.render("readyz", verbose=True) == (
        "[+]ping ok\n[+]watch-cache ok\n[+]etcd excluded: ok\n"
        'warn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n'
    )


@pytest.mark.parametrize(
    ("code", "details", "kind", "status"),
    [
        (grpc.StatusCode.UNAVAILABLE, "connection refused", etcd.UnavailableError, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", etcd.UnavailableError, 504),
        (grpc.StatusCode.UNKNOWN, "etcdserver: request timed out", etcd.UnavailableError, 504),
        (grpc.StatusCode.UNKNOWN, "etcdserver: no leader", etcd.UnavailableError, 503),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "etcdserver: request is too large",
            etcd.RequestTooLargeError,
            413,
        ),
        (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "grpc: received message larger than max (2200000 vs. 2097152)",
            etcd.RequestTooLargeError,
            413,
        ),
        (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "etcdserver: mvcc: database space exceeded",
            etcd.EtcdError,
            500,
        ),
    ],
)
def test_etcd_failures_map_to_statuses(
    code: grpc.StatusCode, details: str, kind: type[etcd.EtcdError], status: int
) -> None:
    error = etcd.classify(code, details)
    assert type(error) is kind
    api_error = storage_errors.to_api_error(error)
    assert api_error.code == status
    if status in (503, 504):
        assert api_error.headers == {"Retry-After": "1"}
        assert api_error.details == {"retryAfterSeconds": 1}


def test_turnstile_lets_writers_of_one_key_go_one_at_a_time() -> None:
    async def main() -> None:
        turns = Turnstile()
        inside: dict[bytes, int] = {b"a": 0, b"b": 0}
        most: dict[bytes, int] = {b"a": 0, b"b": 0}

        async def writer(key: bytes) -> None:
            async with turns.turn(key):
                inside[key] += 1
                most[key] = max(most[key], inside[key])
                await asyncio.sleep(0.001)
                inside[key] -= 1

        tasks = [asyncio.create_task(writer(k)) for k in (b"a", b"b") * 20]
        await asyncio.sleep(0)
        assert len(turns) == 2
        await asyncio.gather(*tasks)
        assert most == {b"a": 1, b"b": 1}
        assert len(turns) == 0  # nothing kept for keys nobody writes

    asyncio.run(main())
