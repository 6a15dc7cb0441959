"""Who owns what: controller references, adopting orphans and releasing strays.

**Owner references.** A controller marks what it made with an
``ownerReferences`` entry that has ``controller: true`` (at most one per
object) and ``blockOwnerDeletion: true`` (so a foreground delete of the owner
waits for it). :func:`controller_ref_to` builds that entry. The owner's *uid*
is what counts: a ReplicaSet deleted and re-created under the same name is a
different owner, and its predecessor's pods are not its own
(:func:`resolve_controller` checks it).

**Claiming (adopt / release).** Ownership follows the selector, not the other
way round (upstream's ``ControllerRefManager``). :class:`ClaimManager` looks at
every candidate object in the namespace:

* controlled by someone else → not ours, never touched;
* controlled by us and still matching the selector → ours;
* controlled by us but no longer matching (someone relabelled it) → *release*
  it: remove our owner reference, so it becomes an orphan that keeps running;
* an orphan that matches → *adopt* it: add our controller reference.

Both are PATCHes that carry the object's ``uid`` as a precondition (a strategic
merge keyed by the owner uid), so a patch never lands on a different object
that took the same name. Two races are guarded the way upstream guards them:
an owner that is being deleted never adopts (its children would be orphaned
again by the garbage collector a moment later), and before the first adoption
the owner is re-read *from the API server*, not the cache, to make sure it
still exists with the same uid and is not being deleted — a stale cache must
not adopt pods into an owner that is already gone.

**Events of owned objects.** :class:`OwnedObjectEvents` maps the events of
children (pods, or a Deployment's ReplicaSets) to the key of the owner to
reconcile: the controller owner if it is in the cache with the referenced uid,
else — for an orphan — every owner whose selector matches it
(:func:`owners_selecting`), since any of them may adopt it. A child whose
``deletionTimestamp`` was just set counts as deleted at once. With
expectations, additions and deletions are reported to them on the way.

**Finding candidates cheaply.** :func:`index_by_controller_uid` indexes the
shared pod informer by controller uid (orphans under ``orphan:<namespace>``),
so :func:`claim_candidates` finds an owner's pods and the orphans it might
adopt without scanning the namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from minik.api.selectors import LabelSelector
from minik.client.controller import Controller
from minik.client.errors import APIError, NotFoundError
from minik.client.informer import Informer
from minik.client.kinds import ResourceRef
from minik.client.objects import (
    Obj,
    controller_ref,
    int_field,
    is_being_deleted,
    labels_of,
    make_key,
    name_of,
    namespace_of,
    object_key,
    resource_version_of,
    spec_of,
    uid_of,
)
from minik.client.rest import APIClient, PatchType
from minik.client.store import Indexer
from minik.controllers.expectations import Expectations
from minik.controllers.pods import is_pod_ready

log = logging.getLogger(__name__)

#: Name of the pod-informer index that maps a pod to its *controller* owner's uid.
CONTROLLER_UID_INDEX = "controller-uid"
_ORPHAN_PREFIX = "orphan:"


def index_by_controller_uid(obj: Obj) -> list[str]:
    """Index function: the controller owner's uid, or ``orphan:<namespace>`` for orphans.

    Install it on the shared pod informer (``factory.informer(PODS, indexers=
    {CONTROLLER_UID_INDEX: index_by_controller_uid})``); then a controller finds
    its own pods and the orphans it might adopt without scanning the namespace.
    """
    ref = controller_ref(obj)
    if ref is not None and ref.get("uid"):
        return [str(ref["uid"])]
    return [orphan_index_value(namespace_of(obj))]


def orphan_index_value(namespace: str | None) -> str:
    """The :data:`CONTROLLER_UID_INDEX` value under which a namespace's orphans are filed."""
    return f"{_ORPHAN_PREFIX}{namespace or ''}"


def controller_ref_to(owner: Obj, *, block_owner_deletion: bool = True) -> dict[str, Any]:
    """The ``ownerReferences`` entry that makes ``owner`` the controller of an object."""
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": block_owner_deletion,
    }


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


def resolve_controller(obj: Obj, kind: str, lookup: Callable[[str], Obj | None]) -> Obj | None:
    """The cached owner (of ``kind``) controlling ``obj``, if it exists with the referenced uid."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind or not ref.get("name"):
        return None
    owner = lookup(make_key(namespace_of(obj), str(ref["name"])))
    if owner is None or uid_of(owner) != ref.get("uid"):
        return None
    return owner


def selector_for(owner: Obj) -> LabelSelector:
    """The owner's label selector (a ReplicationController's plain map or a LabelSelector)."""
    selector = spec_of(owner).get("selector")
    if owner.get("kind") == "ReplicationController":
        return LabelSelector.from_set(selector if isinstance(selector, dict) else None)
    return LabelSelector.from_dict(selector if isinstance(selector, dict) else None)


def owners_selecting(owners: Iterable[Obj], obj: Obj) -> list[Obj]:
    """The ``owners`` whose (non-empty) selector matches ``obj``'s labels: who may adopt it."""
    labels = labels_of(obj)
    return [o for o in owners if not (sel := selector_for(o)).empty and sel.matches(labels)]


class OwnedObjectEvents:
    """Event handlers for the children of one kind of owner (see the module docs).

    ``owner_of`` finds a child's controller owner in the cache (checking its
    uid); ``owners`` is the owners' informer, for orphans. With
    ``expectations``, creations and deletions are reported to them. With
    ``requeue_for_availability``, a pod that became ready requeues its owner
    after the owner's ``minReadySeconds``: that is when it becomes available,
    and no event marks the moment.
    """

    def __init__(
        self,
        controller: Controller,
        owners: Informer,
        owner_of: Callable[[Obj], Obj | None],
        *,
        expectations: Expectations | None = None,
        requeue_for_availability: bool = False,
    ) -> None:
        self.controller = controller
        self.owners = owners
        self.owner_of = owner_of
        self.expectations = expectations
        self.requeue_for_availability = requeue_for_availability

    def register(self, children: Informer) -> None:
        children.add_event_handler(on_add=self.added, on_update=self.updated, on_delete=self.deleted)

    def _enqueue_adopters(self, obj: Obj) -> None:
        for owner in owners_selecting(self.owners.list(namespace=namespace_of(obj)), obj):
            self.controller.enqueue(object_key(owner))

    def added(self, obj: Obj) -> None:
        if is_being_deleted(obj):
            # Seen for the first time already terminating (e.g. after a relist).
            self.deleted(obj)
            return
        owner = self.owner_of(obj)
        if owner is not None:
            key = object_key(owner)
            if self.expectations is not None:
                self.expectations.creation_observed(key)
            self.controller.enqueue(key)
        elif controller_ref(obj) is None:
            self._enqueue_adopters(obj)

    def updated(self, old: Obj, new: Obj) -> None:
        if resource_version_of(old) == resource_version_of(new):
            return  # a resync: nothing changed
        labels_changed = labels_of(old) != labels_of(new)
        if is_being_deleted(new) and not is_being_deleted(old):
            self.deleted(new)
            if labels_changed:
                self.deleted(old)
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref != new_ref and old_ref is not None:
            old_owner = self.owner_of(old)
            if old_owner is not None:
                self.controller.enqueue(object_key(old_owner))
        owner = self.owner_of(new)
        if owner is not None:
            key = object_key(owner)
            self.controller.enqueue(key)
            min_ready = int_field(spec_of(owner), "minReadySeconds")
            if (
                self.requeue_for_availability
                and min_ready > 0
                and is_pod_ready(new)
                and not is_pod_ready(old)
            ):
                self.controller.enqueue_after(key, float(min_ready) + 0.5)
            return
        if new_ref is None and (labels_changed or old_ref != new_ref):
            self._enqueue_adopters(new)

    def deleted(self, obj: Obj) -> None:
        owner = self.owner_of(obj)
        if owner is None:
            return
        key = object_key(owner)
        if self.expectations is not None:
            self.expectations.deletion_observed(key, object_key(obj))
        self.controller.enqueue(key)


class ClaimManager:
    """Adopts matching orphans and releases non-matching children of one owner.

    One instance per reconcile (it remembers whether the owner has been
    re-checked). ``resource`` is what is being claimed (pods, ReplicaSets,
    ControllerRevisions); ``owner_resource`` is the owner's kind, used for the
    fresh read before adopting. ``extra_match`` narrows the selector (a
    StatefulSet only claims pods named ``<set>-<ordinal>``).
    """

    def __init__(
        self,
        client: APIClient,
        owner: Obj,
        owner_resource: ResourceRef,
        selector: LabelSelector,
        *,
        extra_match: Callable[[Obj], bool] | None = None,
    ) -> None:
        self.client = client
        self.owner = owner
        self.owner_resource = owner_resource
        self.selector = selector
        self.extra_match = extra_match
        self._can_adopt: bool | None = None

    def matches(self, obj: Obj) -> bool:
        if not self.selector.matches(labels_of(obj)):
            return False
        return self.extra_match is None or self.extra_match(obj)

    async def claim(self, resource: ResourceRef, candidates: Iterable[Obj]) -> list[Obj]:
        """The candidates this owner controls after adopting and releasing.

        Adoption and release happen one object at a time; a NotFound (the
        object went away) is not an error. Returned objects are the cached
        ones or, for adopted objects, what the PATCH answered: do not mutate.
        """
        owner_uid = uid_of(self.owner)
        owned: list[Obj] = []
        errors: list[Exception] = []
        for obj in candidates:
            ref = controller_ref(obj)
            if ref is not None:
                if ref.get("uid") != owner_uid:
                    continue  # someone else's
                if self.matches(obj):
                    owned.append(obj)
                    continue
                if is_being_deleted(self.owner):
                    continue  # the garbage collector deals with our children now
                try:
                    await self._release(resource, obj)
                except NotFoundError:
                    pass
                except APIError as exc:
                    errors.append(exc)
                continue
            # An orphan.
            if is_being_deleted(self.owner) or is_being_deleted(obj) or not self.matches(obj):
                continue
            if namespace_of(obj) != namespace_of(self.owner):
                continue
            try:
                if not await self._recheck_owner():
                    continue
                adopted = await self._adopt(resource, obj)
            except NotFoundError:
                continue
            except APIError as exc:
                errors.append(exc)
                continue
            owned.append(adopted)
        if errors:
            raise errors[0]
        return owned

    async def _recheck_owner(self) -> bool:
        if self._can_adopt is None:
            fresh = await self.client.get(
                self.owner_resource, name_of(self.owner), namespace=namespace_of(self.owner)
            )
            self._can_adopt = uid_of(fresh) == uid_of(self.owner) and not is_being_deleted(fresh)
            if not self._can_adopt:
                log.info(
                    "%s %s changed or is being deleted: not adopting",
                    self.owner.get("kind"),
                    object_key(self.owner),
                )
        return self._can_adopt

    async def _adopt(self, resource: ResourceRef, obj: Obj) -> Obj:
        log.info(
            "%s %s adopts %s %s",
            self.owner.get("kind"),
            object_key(self.owner),
            resource.kind,
            object_key(obj),
        )
        body = {"metadata": {"ownerReferences": [controller_ref_to(self.owner)], "uid": uid_of(obj)}}
        return await self.client.patch(
            resource, name_of(obj), body, namespace=namespace_of(obj), type=PatchType.STRATEGIC
        )

    async def _release(self, resource: ResourceRef, obj: Obj) -> None:
        log.info(
            "%s %s releases %s %s",
            self.owner.get("kind"),
            object_key(self.owner),
            resource.kind,
            object_key(obj),
        )
        body = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": uid_of(self.owner)}],
                "uid": uid_of(obj),
            }
        }
        await self.client.patch(
            resource, name_of(obj), body, namespace=namespace_of(obj), type=PatchType.STRATEGIC
        )


def claim_candidates(store: Indexer, owner: Obj) -> list[Obj]:
    """An owner's objects plus the orphans of its namespace, via :data:`CONTROLLER_UID_INDEX`.

    ``store`` is an informer's store indexed with :func:`index_by_controller_uid`.
    Objects controlled by a *different* owner are never candidates, which is
    exactly what :meth:`ClaimManager.claim` would skip anyway.
    """
    own = store.by_index(CONTROLLER_UID_INDEX, uid_of(owner) or "")
    orphans = store.by_index(CONTROLLER_UID_INDEX, orphan_index_value(namespace_of(owner)))
    return [*own, *orphans]


__all__ = [
    "CONTROLLER_UID_INDEX",
    "ClaimManager",
    "OwnedObjectEvents",
    "claim_candidates",
    "controller_ref_to",
    "index_by_controller_uid",
    "is_controlled_by",
    "orphan_index_value",
    "owners_selecting",
    "resolve_controller",
    "selector_for",
]
