"""IndexWatcher: informers keep the record index in step with the API (an in-memory fake API)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from minik.client.kinds import ENDPOINTSLICES, NAMESPACES, SERVICES
from minik.dns.records import RecordIndex
from minik.dns.rr import RType
from minik.dns.watch import IndexWatcher
from tests.client.fakes import FakeAPI

from .objects import endpoint, endpointslice, headless, namespace, service


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def addresses(index: RecordIndex, name: str) -> list[str]:
    rrsets = index.get(name) or {}
    return [d.address for d in rrsets.get(RType.A, ())]  # type: ignore[union-attr]


async def test_list_then_watch_feeds_the_index() -> None:
    api = FakeAPI()
    api.put(NAMESPACES, namespace("prod"))
    api.put(SERVICES, service("web", cluster_ip="10.96.0.20"))
    api.put(SERVICES, headless("db"))
    api.put(ENDPOINTSLICES, endpointslice("db-1", "db", [endpoint("10.244.0.7", "db-0")]))
    index = RecordIndex()
    watcher = IndexWatcher(api, index)
    watcher.start()
    try:
        assert await watcher.wait_for_sync(timeout=2)
        assert watcher.synced
        assert addresses(index, "web.default.svc.cluster.local") == ["10.96.0.20"]
        assert addresses(index, "db-0.db.default.svc.cluster.local") == ["10.244.0.7"]
        assert index.get("prod.svc.cluster.local") == {}

        api.put(SERVICES, service("web", cluster_ip="10.96.0.21"))
        await eventually(lambda: addresses(index, "web.default.svc.cluster.local") == ["10.96.0.21"])

        api.put(ENDPOINTSLICES, endpointslice("db-1", "db", [endpoint("10.244.0.8", "db-0")]))
        await eventually(lambda: addresses(index, "db-0.db.default.svc.cluster.local") == ["10.244.0.8"])

        api.remove(SERVICES, "web", "default")
        await eventually(lambda: index.get("web.default.svc.cluster.local") is None)

        api.remove(NAMESPACES, "prod")
        await eventually(lambda: index.get("prod.svc.cluster.local") is None)
    finally:
        await watcher.stop()
