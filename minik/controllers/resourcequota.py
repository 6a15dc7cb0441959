"""The resourcequota controller: keeps each ResourceQuota's ``status`` true to what exists.

A ResourceQuota's ``status`` has two maps: ``hard`` (the limits in force, copied from
``spec.hard``) and ``used`` (what the namespace holds). The API server's quota admission
*charges* ``used`` when an object is created -- it never gives anything back, because it
does not see objects go away (and a charged create can still fail). This controller
recomputes ``used`` from scratch (upstream's ``resourcequota`` controller):

* when a quota is created or its ``spec`` changes (new limits take effect once they are in
  ``status.hard`` -- admission enforces ``status.hard``, not ``spec``);
* when something that may free quota happens: a pod, service or claim is deleted, a pod
  finishes (a finished pod no longer uses CPU or memory), a service or claim changes;
* and every ``resync_period`` seconds anyway (objects of other kinds counted with
  ``count/...`` are given back then).

Creates do not trigger a recompute: admission has charged them already, and recomputing
then would race the objects still on their way into storage.

Usage is computed with the same evaluators admission uses (:mod:`minik.api.quota`), over
a fresh list from the API server rather than the informer caches: the quota is read
first, then the objects, and the new status is written against the quota's
resourceVersion -- so a charge made by admission meanwhile makes the write conflict and
the sync run again, instead of being overwritten by a count that missed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

from minik.api import kinds
from minik.api import quota as q
from minik.client.controller import Controller, Result
from minik.client.errors import NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PERSISTENTVOLUMECLAIMS, PODS, RESOURCEQUOTAS, SERVICES, ResourceRef
from minik.client.objects import Obj, deepcopy, make_key, namespace_of, split_key
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

#: How often every quota is recomputed even if nothing signalled a change (upstream: 5 min).
RESYNC_SECONDS = 300.0
#: The kinds whose changes may free quota, watched so that it is given back at once.
_WATCHED = (PODS, SERVICES, PERSISTENTVOLUMECLAIMS)


def compute_usage(quota: Obj, objects: dict[ResourceRef, list[Obj]]) -> q.ResourceList:
    """What the namespace uses of each resource in ``quota``'s ``spec.hard``.

    ``objects`` holds the namespace's objects per resource; names no listed resource is
    charged for (a custom resource's ``count/...``) are left out."""
    hard = q.parse_list(q.field_dict(quota, "spec").get("hard"))
    used: q.ResourceList = {}
    for ref, items in objects.items():
        names = [n for n in hard if q.tracked_by(ref.plural, ref.group, n)]
        if not names:
            continue
        for name in names:
            used.setdefault(name, Fraction(0))
        for obj in items:
            if q.quota_matches(quota, ref.plural, ref.group, obj):
                used = q.add(used, q.restrict(q.usage_of(ref.plural, ref.group, obj), names))
    return used


def resources_for(quota: Obj) -> list[ResourceRef]:
    """The built-in resources whose objects ``quota`` counts."""
    hard = q.field_dict(quota, "spec").get("hard") or {}
    return [
        ref
        for ref in kinds.BUILTIN
        if ref.namespaced and any(q.tracked_by(ref.plural, ref.group, str(n)) for n in hard)
    ]


class ResourceQuotaController:
    """Recomputes ``status.hard`` and ``status.used`` of every ResourceQuota."""

    name = "resourcequota"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 1,
        resync_period: float = RESYNC_SECONDS,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.resync_period = resync_period
        self.quotas = factory.informer(RESOURCEQUOTAS)
        self.watched = [factory.informer(ref) for ref in _WATCHED]
        self.loop = Controller("resourcequota", self.sync, workers=workers)
        self.loops = [self.loop]
        self.quotas.add_event_handler(on_add=self.loop.enqueue_object, on_update=self._quota_changed)
        for ref, informer in zip(_WATCHED, self.watched, strict=True):
            informer.add_event_handler(on_update=self._changes_of(ref), on_delete=self._object_gone)

    async def run(self) -> None:
        await self.loop.run(wait_for=[self.quotas, *self.watched])

    # -- events -> quota keys -----------------------------------------------------------------------

    def _quota_changed(self, old: Obj, new: Obj) -> None:
        """Only a change of the limits needs a recompute (admission's charges change the
        status alone, and are right)."""
        spec, status = q.field_dict(new, "spec"), q.field_dict(new, "status")
        if spec != q.field_dict(old, "spec") or spec.get("hard") != status.get("hard"):
            self.loop.enqueue_object(new)

    def _enqueue_namespace(self, namespace: str) -> None:
        for quota in self.quotas.list(namespace=namespace):
            self.loop.enqueue_object(quota)

    def _object_gone(self, obj: Obj) -> None:
        self._enqueue_namespace(namespace_of(obj) or "")

    def _changes_of(self, ref: ResourceRef) -> Callable[[Obj, Obj], None]:
        """An update handler for ``ref``'s objects: an update may free quota (a pod that
        finished, a service that stopped being a LoadBalancer, a claim that shrank)."""

        def changed(old: Obj, new: Obj) -> None:
            ns = namespace_of(new) or ""
            if not self.quotas.list(namespace=ns):
                return
            before = q.usage_of(ref.plural, ref.group, old)
            after = q.usage_of(ref.plural, ref.group, new)
            if any(after.get(name, Fraction(0)) < amount for name, amount in before.items()):
                self._enqueue_namespace(ns)

        return changed

    # -- the sync ------------------------------------------------------------------------------------

    async def sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        try:
            quota = await self.client.get(RESOURCEQUOTAS, name, namespace=namespace)
        except NotFoundError:
            return Result()
        objects: dict[ResourceRef, list[Obj]] = {}
        for ref in resources_for(quota):
            objects[ref] = (await self.client.list(ref, namespace=namespace)).get("items") or []
        hard = dict(q.field_dict(quota, "spec").get("hard") or {})
        status = q.field_dict(quota, "status")
        old_used = dict(status.get("used") or {})
        # names no built-in kind is charged for keep what admission charged them
        used = {n: v for n, v in old_used.items() if n in hard}
        used.update(q.format_list(compute_usage(quota, objects), {**old_used, **hard}))
        for name_ in hard:
            used.setdefault(name_, "0")
        new_status = {"hard": hard, "used": used}
        if new_status != status:
            updated = deepcopy(quota)
            updated["status"] = new_status
            await self.client.update_status(RESOURCEQUOTAS, updated, namespace=namespace)
            log.info("resourcequota %s: used %s", make_key(namespace, name), used)
        return Result(requeue_after=self.resync_period)


__all__ = ["ResourceQuotaController", "compute_usage", "resources_for"]
