"""ResourceQuota admission: charge each new object to its namespace's quotas, or refuse it.

For every quota of the namespace that covers the object (its scopes match, and its
``status.hard`` names a resource the object is charged for), the plugin

1. checks the object against the quota: a container that leaves out a request or limit
   the quota tracks is refused (``failed quota: q: must specify limits.cpu``), so is a
   quota whose controller has not yet written ``status.used`` (``status unknown for
   quota``), and so is an object that would take ``used`` over ``hard``::

       pods "web-3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2

2. **charges** it: ``status.used`` goes up by what the object costs, written through the
   API server's own storage *with the resourceVersion it was read at* as a precondition.

The charge is what makes concurrent creates safe. Twenty pods created at once against
``pods: 10`` all read ``used: 0``; each tries to write ``used: 1`` on the version it
read, and etcd lets exactly one of them commit. The others get a conflict, read the
quota again and try again on the new ``used`` -- so the eleventh finds ``used: 10`` and
is refused, even when the requests land on different API server processes, because the
precondition is checked by etcd, not by any one process (upstream does the same).

Like upstream, a charge is made before the object is stored, so a write that fails
afterwards leaves the quota over-charged for a moment; the resourcequota controller
(``minik.controllers.resourcequota``) recomputes ``status.used`` from what exists and
gives it back. Deletes are not admitted here for the same reason: the controller sees
the object go and frees its share.

Updates are charged for what they add: a Service turned into a LoadBalancer, a claim
asking for more storage. Pods cannot change what they request, so pod updates are not
charged. A dry run is checked but not charged.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from minik.api import errors
from minik.api import quota as q
from minik.apiserver.admission import CREATE, UPDATE, Attributes, forbidden

Obj = dict[str, Any]

#: How long one write keeps retrying its charge while other writers keep winning.
CHARGE_SECONDS = 20.0


@dataclass(frozen=True)
class QuotaStore:
    """Where the plugin reads and writes quotas (the API server's storage, in production)."""

    #: the namespace's quotas, as the watch cache has them (which quotas exist)
    cached: Callable[[str], list[Obj]]
    #: one quota fresh from etcd, with the resourceVersion to write against (None: gone)
    read: Callable[[str, str], Awaitable[Obj | None]]
    #: write ``status`` if the quota is still at ``metadata.resourceVersion`` (409 if not)
    write_status: Callable[[str, str, Obj], Awaitable[Obj]]


@dataclass
class _Charge:
    """What one quota says about one object: the resources it tracks for it, and the request."""

    quota: Obj
    tracked: list[str]
    requested: q.ResourceList


class ResourceQuotaAdmission:
    """The validating admission plugin (see the module docs)."""

    name = "ResourceQuota"

    def __init__(self, store: QuotaStore) -> None:
        self._store = store

    def handles(self, attrs: Attributes) -> bool:
        if attrs.subresource is not None or not attrs.namespace:
            return False
        if attrs.operation == CREATE:
            return True
        # pods cannot change their requests; other kinds are only counted once
        return attrs.operation == UPDATE and (attrs.group, attrs.resource) in (
            ("", "services"),
            ("", "persistentvolumeclaims"),
        )

    def _requested(self, attrs: Attributes) -> q.ResourceList:
        usage = q.usage_of(attrs.resource, attrs.group, attrs.obj)
        if attrs.operation == UPDATE and attrs.old is not None:
            before = q.usage_of(attrs.resource, attrs.group, attrs.old)
            usage = {k: v for k, v in q.subtract(usage, before).items() if v > 0}
        return usage

    async def validate(self, attrs: Attributes) -> None:
        namespace = str(attrs.namespace)
        candidates = [
            str(item["metadata"]["name"])
            for item in self._store.cached(namespace)
            if q.quota_matches(item, attrs.resource, attrs.group, attrs.obj)
        ]
        if not candidates:
            return
        requested = self._requested(attrs)
        if not requested:
            return
        # First check every quota, then charge each: an object refused by one quota is
        # charged to none.
        charges = []
        for name in sorted(candidates):
            charge = await self._check(attrs, namespace, name, requested)
            if charge is not None:
                charges.append(charge)
        if attrs.dry_run:
            return
        for charge in charges:
            await self._charge(attrs, namespace, charge, requested)

    async def _check(
        self, attrs: Attributes, namespace: str, name: str, requested: q.ResourceList
    ) -> _Charge | None:
        """The quota fresh from etcd, checked against the object (403 if it must be refused)."""
        quota = await self._store.read(namespace, name)
        if quota is None or not q.quota_matches(quota, attrs.resource, attrs.group, attrs.obj):
            return None
        status = q.field_dict(quota, "status")
        hard = q.parse_list(status.get("hard"))
        tracked = sorted(n for n in hard if q.tracked_by(attrs.resource, attrs.group, n))
        if not tracked:
            return None
        if (attrs.group, attrs.resource) == ("", "pods") and attrs.operation == CREATE:
            missing = q.missing_resources(attrs.obj, tracked)
            if missing:
                problems = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
                raise forbidden(attrs, f"failed quota: {name}: {problems}")
        used_raw = q.field_dict(status, "used")
        unknown = [n for n in tracked if n not in used_raw]
        if unknown:
            raise forbidden(attrs, f"status unknown for quota: {name}, resources: {','.join(unknown)}")
        used = q.parse_list(used_raw)
        wanted = q.restrict(requested, tracked)
        over = q.exceeded(hard, used, wanted)
        if over:
            like = status.get("hard")
            raise forbidden(
                attrs,
                f"exceeded quota: {name}, requested: {q.pretty(wanted, over, like)}, "
                f"used: {q.pretty(used, over, like)}, limited: {q.pretty(hard, over, like)}",
            )
        return _Charge(quota, tracked, wanted)

    async def _charge(
        self, attrs: Attributes, namespace: str, charge: _Charge, requested: q.ResourceList
    ) -> None:
        """Add the request to ``status.used``, on the version checked; on a conflict check
        the winner's version again and retry."""
        name = str(charge.quota["metadata"]["name"])
        deadline = asyncio.get_running_loop().time() + CHARGE_SECONDS
        current: _Charge | None = charge
        while current is not None:
            status = current.quota.get("status") or {}
            used = q.add(q.parse_list(status.get("used")), current.requested)
            updated = copy.deepcopy(current.quota)
            like = {**(status.get("used") or {}), **(status.get("hard") or {})}
            updated["status"]["used"] = {**(status.get("used") or {}), **q.format_list(used, like)}
            try:
                await self._store.write_status(namespace, name, updated)
                return
            except errors.APIError as e:
                if e.code != 409:
                    raise
            if asyncio.get_running_loop().time() > deadline:
                raise errors.APIError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on resourcequotas "{name}": '
                    "the quota kept changing while this request was charged to it; please try again",
                    details={"name": name, "kind": "resourcequotas"},
                )
            current = await self._check(attrs, namespace, name, requested)


__all__ = ["QuotaStore", "ResourceQuotaAdmission"]
