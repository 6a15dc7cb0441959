"""The API server's admission chain: which plugins run, in which order, reading what.

Order matters as upstream's: Priority resolves a pod's class before defaulting would give
it priority 0; LimitRanger gives containers their defaults before anything looks at their
resources; and ResourceQuota validates last, charging only writes no other plugin refused.
"""

from __future__ import annotations

from typing import Any, Protocol

from minik.api import errors
from minik.api.kinds import LIMITRANGES, PRIORITYCLASSES, RESOURCEQUOTAS
from minik.apiserver.admission import Chain
from minik.apiserver.admission.limitranger import LimitRanger
from minik.apiserver.admission.priority import Priority, PriorityClasses
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
    registry = storage.registry
    limit_ranges_rt = registry.lookup(LIMITRANGES.group, LIMITRANGES.version, LIMITRANGES.plural)
    quotas_rt = registry.lookup(RESOURCEQUOTAS.group, RESOURCEQUOTAS.version, RESOURCEQUOTAS.plural)
    classes_rt = registry.lookup(PRIORITYCLASSES.group, PRIORITYCLASSES.version, PRIORITYCLASSES.plural)
    if limit_ranges_rt is None or quotas_rt is None or classes_rt is None:
        return Chain()  # a registry without them (some tests): nothing to admit against

    async def fresh(rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """From etcd: what the watch cache may not have yet."""
        try:
            return await storage.get(rt, namespace, name)
        except errors.APIError as e:
            if e.code == 404:
                return None
            raise

    def cached(rt: ResourceType, namespace: str | None) -> list[Obj]:
        return [e.obj for e in storage.cache.cache(rt).list(namespace, _everything)]

    def priority_classes() -> list[Obj]:
        return cached(classes_rt, None)

    async def priority_class(name: str) -> Obj | None:
        entry = storage.cache.cache(classes_rt).objects.get(name)
        return entry.obj if entry is not None else await fresh(classes_rt, None, name)

    def limit_ranges(namespace: str) -> list[Obj]:
        return cached(limit_ranges_rt, namespace)

    def quotas(namespace: str) -> list[Obj]:
        return cached(quotas_rt, namespace)

    async def read_quota(namespace: str, name: str) -> Obj | None:
        return await fresh(quotas_rt, namespace, name)

    async def write_quota_status(namespace: str, name: str, quota: Obj) -> Obj:
        return await storage.update(quotas_rt, namespace, name, quota, subresource="status")

    priority = Priority(PriorityClasses(priority_classes, priority_class))
    limit_ranger = LimitRanger(limit_ranges)
    resource_quota = ResourceQuotaAdmission(QuotaStore(quotas, read_quota, write_quota_status))
    return Chain(mutating=(priority, limit_ranger), validating=(priority, limit_ranger, resource_quota))


def _everything(_obj: Obj) -> bool:
    return True


__all__ = ["build_chain"]
