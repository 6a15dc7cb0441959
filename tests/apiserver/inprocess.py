"""The API server's storage, in this process, over the tests' real etcd.

Unit tests of ``rest.Storage`` and ``watchcache.py`` call them directly instead of
over HTTP: the same etcd (``tests/conftest.py``'s ``etcd_server``), no apiserver
process, so a test can reach the watchers' queues and the cache's revision.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from minik.api import errors
from minik.apiserver import etcd
from minik.apiserver.registry import Registry, ResourceType
from minik.apiserver.rest import Storage
from minik.apiserver.watchcache import WatchCache

Obj = dict[str, Any]


@contextlib.asynccontextmanager
async def open_storage(etcd_url: str, **cache_options: Any) -> AsyncIterator[Storage]:
    """A started watch cache and a Storage over it; ``cache_options`` go to :class:`WatchCache`."""
    registry = Registry()
    client = etcd.EtcdClient([etcd_url])
    await client.wait_ready(timeout=30)
    cache = WatchCache(client, registry, **cache_options)
    await cache.start()
    try:
        yield Storage(client, cache, registry)
    finally:
        await cache.stop()
        await client.close()


def resource(storage: Storage, plural: str, group: str = "", version: str = "v1") -> ResourceType:
    rt = storage.registry.lookup(group, version, plural)
    assert rt is not None
    return rt


async def new_namespace(storage: Storage) -> str:
    """A fresh namespace, so that tests sharing one etcd never see each other's objects."""
    name = f"u-{secrets.token_hex(4)}"
    await storage.create(resource(storage, "namespaces"), None, {"metadata": {"name": name}})
    return name


def configmap(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


async def api_error(call: Any) -> errors.APIError:
    """The APIError an awaitable raises (the test fails if it raises none)."""
    try:
        await call
    except errors.APIError as e:
        return e
    raise AssertionError("expected an APIError")
