"""Feeding the record index from the API server: three informers, three handlers.

minik-dns is an ordinary API client. It list-and-watches (see
:mod:`minik.client.informer`):

* **Services** — the names and ClusterIPs (and ExternalName aliases);
* **EndpointSlices** (``discovery.k8s.io/v1``) — the pod addresses behind
  headless Services, with their hostnames and readiness;
* **Namespaces** — so that ``<ns>.svc.<zone>`` and ``<ns>.pod.<zone>`` exist
  (NODATA, not NXDOMAIN) for a namespace without Services, and pod records
  resolve in it.

Every event goes straight into the :class:`~minik.dns.records.RecordIndex`;
there is no work queue because applying a change is a quick, synchronous,
idempotent recomputation of one Service's records, and the index itself
ignores changes that alter nothing it serves (resyncs, status-only updates).
The informers run in the same event loop as the DNS server, so a query always
sees the index between two events, never halfway through one.

Readiness (``/readyz``) waits for the three first lists: before then the index
is incomplete and would answer NXDOMAIN for Services that exist.
"""

from __future__ import annotations

from minik.client.informer import Informer, ListWatcher, SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import ENDPOINTSLICES, NAMESPACES, SERVICES
from minik.client.objects import Obj
from minik.dns.records import RecordIndex


class IndexWatcher:
    """Keeps ``index`` in step with the Services, EndpointSlices and Namespaces of a cluster."""

    def __init__(self, client: ListWatcher, index: RecordIndex) -> None:
        self.index = index
        self.factory = SharedInformerFactory(client)
        self.informers: list[Informer] = [
            self.factory.informer(resource) for resource in (SERVICES, ENDPOINTSLICES, NAMESPACES)
        ]
        for informer in self.informers:
            informer.add_event_handler(on_add=self._apply, on_update=self._update, on_delete=self._remove)

    def _apply(self, obj: Obj) -> None:
        self.index.apply(obj)

    def _update(self, old: Obj, new: Obj) -> None:
        self.index.apply(new)

    def _remove(self, obj: Obj) -> None:
        self.index.remove(obj)

    @property
    def synced(self) -> bool:
        return all(informer.has_synced for informer in self.informers)

    def start(self) -> None:
        self.factory.start()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        return await wait_for_cache_sync(*self.informers, timeout=timeout)

    async def stop(self) -> None:
        await self.factory.shutdown()
