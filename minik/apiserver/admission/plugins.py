"""The API server's admission chain: which plugins run, in which order, reading what.

Order matters as upstream's: LimitRanger gives containers their defaults before anything
looks at their resources, and ResourceQuota validates last, charging only writes no other
plugin refused.
"""

from __future__ import annotations

from typing import Any, Protocol

from minik.api import errors
from minik.api.kinds import LIMITRANGES, RESOURCEQUOTAS
from minik.apiserver.admission import Chain
from minik.apiserver.admission.limitranger import LimitRanger
from minik.apiserver.admission.resourcequota import QuotaStore, ResourceQuotaAdmission
from minik.apiserver.registry import Registry, ResourceType
from minik.apiserver.watchcache import WatchCache

Obj = dict[str, Any]


class Storage(Protocol):
    """What the plugins use of ``minik.apiserver.rest.Storage`` (which builds the chain)."""

    registry: Registry
    cache: WatchCache

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj: ...

    async def update(
        self, rt: ResourceType, namespace: str | None, name: str, obj: Obj, *, subresource: str | None = None
    ) -> Obj: ...


def build_chain(storage: Storage) -> Chain:
    """The plugins, wired to read (and, for quota, write) through ``storage``."""
    limit_ranges_rt = storage.registry.lookup(LIMITRANGES.group, LIMITRANGES.version, LIMITRANGES.plural)
    quotas_rt = storage.registry.lookup(RESOURCEQUOTAS.group, RESOURCEQUOTAS.version, RESOURCEQUOTAS.plural)
    if limit_ranges_rt is None or quotas_rt is None:
        return Chain()  # a registry without them (some tests): nothing to admit against

    def limit_ranges(namespace: str) -> list[Obj]:
        return [e.obj for e in storage.cache.cache(limit_ranges_rt).list(namespace, _everything)]

    def quotas(namespace: str) -> list[Obj]:
        return [e.obj for e in storage.cache.cache(quotas_rt).list(namespace, _everything)]

    async def read_quota(namespace: str, name: str) -> Obj | None:
        try:
            return await storage.get(quotas_rt, namespace, name)
        except errors.APIError as e:
            if e.code == 404:
                return None
            raise

    async def write_quota_status(namespace: str, name: str, quota: Obj) -> Obj:
        return await storage.update(quotas_rt, namespace, name, quota, subresource="status")

    limit_ranger = LimitRanger(limit_ranges)
    resource_quota = ResourceQuotaAdmission(QuotaStore(quotas, read_quota, write_quota_status))
    return Chain(mutating=(limit_ranger,), validating=(limit_ranger, resource_quota))


def _everything(_obj: Obj) -> bool:
    return True


__all__ = ["build_chain"]
