"""The garbage collector: deleting what nobody owns any more.

Every object may name its owners in ``metadata.ownerReferences`` (a Pod its
ReplicaSet, a ReplicaSet its Deployment, an EndpointSlice its Service). Those
references form a graph over *all* kinds, and deleting an owner must do
something to its dependents. The API server only records the request — the
``propagationPolicy`` of a DELETE becomes a finalizer on the owner — and this
controller carries it out, exactly as upstream's:

========== ==================================== ====================================
policy     what the API server does             what the collector does
========== ==================================== ====================================
Background deletes the owner at once            sees dependents whose owner is gone
                                                and deletes them (then *their*
                                                dependents, level by level)
Foreground marks the owner (deletionTimestamp,  deletes the dependents; when no
           finalizer ``foregroundDeletion``)    dependent with ``blockOwnerDeletion``
                                                is left, removes the finalizer and
                                                the owner goes
Orphan     marks the owner (finalizer           removes the owner's reference from
           ``orphan``)                          every dependent, then the finalizer
========== ==================================== ====================================

**The graph is the informer caches.** One informer per resource the API server
serves (found through discovery, Events excluded) feeds the shared
:class:`~minik.client.store.Indexer`, whose built-in ``owner-uid`` index
answers "who are the dependents of uid U" for every kind. Owners are looked up
by (group, kind, namespace, name) and checked by uid.

**One question per object.** Work is keyed by object. Reconciling an object
with owners classifies each reference (upstream's ``classifyReferences``):

* *solid* — the owner exists with that uid and is not being deleted in the
  foreground;
* *dangling* — no object with that uid exists (404, or the name now belongs to
  a different uid);
* *waiting* — the owner exists and is being deleted in the foreground.

With at least one solid owner the object lives (dangling and waiting
references are removed from it, so a foreground owner is not blocked by a
dependent that another owner keeps). Otherwise it is deleted — in the
foreground itself if it is waited on and has dependents of its own, so that a
foreground deletion of a Deployment waits for the pods of its ReplicaSets.

**Never trust a cache miss.** The informer of a kind may not yet have seen an
owner created a moment ago (informers of different kinds are not ordered with
each other), so "owner not in the cache" is always confirmed by a live GET
before anything is deleted; confirmed-absent uids are remembered in a bounded
cache so a thousand orphans cost one GET. Every delete carries the dependent's
uid as a precondition, and every patch carries its resourceVersion: if the
object changed or was re-created meanwhile, the write fails and the key is
re-examined with fresher state instead of acting on a stale decision.

**Events that matter.** An object is (re)examined when it appears with
owners, when its owners or deletion state change, when one of its owners is
deleted (then all dependents are enqueued), and an owner being deleted in the
foreground is re-examined whenever one of its dependents goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from minik.client.controller import Controller, Result
from minik.client.errors import APIConnectionError, APIError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import BUILTIN, ResourceRef
from minik.client.objects import (
    Obj,
    finalizers_of,
    group_of,
    is_being_deleted,
    make_key,
    metadata,
    name_of,
    namespace_of,
    owner_references,
    resource_version_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.client.store import OWNER_UID_INDEX

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
#: Never watched: Events are high-churn and never own anything (upstream ignores them too).
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})


# -- discovery (also used by the namespace controller) ------------------------------------------


@dataclass(frozen=True, slots=True)
class APIResource:
    """A resource the API server serves, as discovery describes it."""

    ref: ResourceRef
    verbs: frozenset[str]


_BUILTIN = {(r.group, r.version, r.plural): r for r in BUILTIN}


async def discover_resources(client: APIClient) -> list[APIResource]:
    """Every top-level resource of the preferred version of every group.

    Built-in resources come back as the very :class:`ResourceRef` objects of
    :mod:`minik.client.kinds`, so informers asked for through discovery are the
    same shared informers other controllers use.
    """
    group_versions: list[tuple[str, str]] = []
    core = await client.request("GET", "/api")
    for version in core.get("versions") or ["v1"]:
        group_versions.append(("", str(version)))
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("version")
        if not preferred and group.get("versions"):
            preferred = group["versions"][0].get("version")
        if preferred:
            group_versions.append((str(group.get("name") or ""), str(preferred)))

    found: list[APIResource] = []
    for group, version in group_versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = await client.request("GET", path)
        except NotFoundError:
            continue
        for entry in listing.get("resources") or []:
            plural = str(entry.get("name") or "")
            if not plural or "/" in plural:
                continue  # subresources
            ref = _BUILTIN.get((group, version, plural)) or ResourceRef(
                group, version, plural, str(entry.get("kind") or ""), bool(entry.get("namespaced"))
            )
            found.append(APIResource(ref, frozenset(str(v) for v in entry.get("verbs") or [])))
    return found


# -- keys ----------------------------------------------------------------------------------------


def _key(ref: ResourceRef, obj: Obj) -> str:
    return f"{ref.group}|{ref.plural}|{namespace_of(obj) or ''}|{name_of(obj)}"


def _split(key: str) -> tuple[str, str, str | None, str]:
    group, plural, namespace, name = key.split("|", 3)
    return group, plural, namespace or None, name


def _has_finalizer(obj: Obj, finalizer: str) -> bool:
    return finalizer in finalizers_of(obj)


def _deleting_dependents(obj: Obj) -> bool:
    return is_being_deleted(obj) and _has_finalizer(obj, FOREGROUND)


def _orphaning(obj: Obj) -> bool:
    return is_being_deleted(obj) and _has_finalizer(obj, ORPHAN)


class _AbsentOwners:
    """A bounded LRU of owner uids confirmed not to exist."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._uids: OrderedDict[str, None] = OrderedDict()

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self.size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


class GarbageCollector:
    """Cascading deletion over ownerReferences (see the module docs)."""

    name = "garbagecollector"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 4,
        resources: Iterable[ResourceRef] | None = None,
        discovery_retry: float = 2.0,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.discovery_retry = discovery_retry
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.informers: dict[ResourceRef, Informer] = {}
        self._by_plural: dict[tuple[str, str], ResourceRef] = {}
        self._by_kind: dict[tuple[str, str], ResourceRef] = {}
        self._absent = _AbsentOwners()
        self._unknown_kinds: set[tuple[str, str]] = set()
        if resources is not None:
            self._watch_resources(resources)

    # -- wiring ------------------------------------------------------------------------------------

    def _watch_resources(self, refs: Iterable[ResourceRef]) -> None:
        for ref in refs:
            if ref in self.informers or (ref.group, ref.plural) in IGNORED_RESOURCES:
                continue
            informer = self.factory.informer(ref)
            self.informers[ref] = informer
            self._by_plural[(ref.group, ref.plural)] = ref
            self._by_kind[(ref.group, ref.kind)] = ref
            informer.add_event_handler(
                on_add=functools.partial(self._on_add, ref),
                on_update=functools.partial(self._on_update, ref),
                on_delete=functools.partial(self._on_delete, ref),
            )

    async def _discover(self) -> None:
        while True:
            try:
                found = await discover_resources(self.client)
            except (APIError, APIConnectionError) as exc:
                log.warning(
                    "garbage collector: discovery failed (%s); retrying in %.1fs", exc, self.discovery_retry
                )
                await asyncio.sleep(self.discovery_retry)
                continue
            usable = [r.ref for r in found if {"list", "watch", "delete", "patch"} <= r.verbs]
            self._watch_resources(usable)
            log.info("garbage collector: watching %d resource(s)", len(self.informers))
            return

    async def run(self) -> None:
        if not self.informers:
            await self._discover()
        await self.controller.run(wait_for=list(self.informers.values()))

    # -- handlers ----------------------------------------------------------------------------------

    def _enqueue(self, ref: ResourceRef, obj: Obj) -> None:
        if name_of(obj):
            self.controller.enqueue(_key(ref, obj))

    def _enqueue_dependents(self, obj: Obj) -> None:
        uid = uid_of(obj)
        if uid:
            for ref, dependent in self.dependents(uid):
                self._enqueue(ref, dependent)

    def _enqueue_deleting_owners(self, obj: Obj, refs: Iterable[dict[str, object]]) -> None:
        for oref in refs:
            found = self._cached_owner(obj, oref)
            if found is not None and _deleting_dependents(found[1]):
                self._enqueue(*found)

    def _on_add(self, ref: ResourceRef, obj: Obj) -> None:
        if owner_references(obj) or _deleting_dependents(obj) or _orphaning(obj):
            self._enqueue(ref, obj)
        if _deleting_dependents(obj):
            self._enqueue_dependents(obj)

    def _on_update(self, ref: ResourceRef, old: Obj, new: Obj) -> None:
        old_refs, new_refs = owner_references(old), owner_references(new)
        if old_refs != new_refs:
            self._enqueue(ref, new)
            new_uids = {r.get("uid") for r in new_refs}
            self._enqueue_deleting_owners(new, [r for r in old_refs if r.get("uid") not in new_uids])
        if _deleting_dependents(new) and not _deleting_dependents(old):
            self._enqueue(ref, new)
            self._enqueue_dependents(new)
        if _orphaning(new) and not _orphaning(old):
            self._enqueue(ref, new)

    def _on_delete(self, ref: ResourceRef, obj: Obj) -> None:
        self._enqueue_dependents(obj)
        self._enqueue_deleting_owners(obj, owner_references(obj))

    # -- the graph ---------------------------------------------------------------------------------

    def dependents(self, uid: str) -> list[tuple[ResourceRef, Obj]]:
        """Every cached object with an ownerReference to ``uid``, of every kind."""
        found: list[tuple[ResourceRef, Obj]] = []
        for ref, informer in self.informers.items():
            for obj in informer.store.by_index(OWNER_UID_INDEX, uid):
                found.append((ref, obj))
        return found

    def _owner_resource(self, oref: dict[str, object]) -> ResourceRef | None:
        group = group_of(str(oref.get("apiVersion") or ""))
        return self._by_kind.get((group, str(oref.get("kind") or "")))

    def _owner_key(self, dependent: Obj, owner_ref: ResourceRef, oref: dict[str, object]) -> str | None:
        if not owner_ref.namespaced:
            return str(oref.get("name") or "")
        ns = namespace_of(dependent)
        if ns is None:
            return None  # a cluster-scoped object cannot be owned by a namespaced one
        return make_key(ns, str(oref.get("name") or ""))

    def _cached_owner(self, dependent: Obj, oref: dict[str, object]) -> tuple[ResourceRef, Obj] | None:
        owner_ref = self._owner_resource(oref)
        if owner_ref is None:
            return None
        key = self._owner_key(dependent, owner_ref, oref)
        if key is None:
            return None
        owner = self.informers[owner_ref].get(key)
        if owner is None or uid_of(owner) != oref.get("uid"):
            return None
        return owner_ref, owner

    async def _owner_state(self, dependent: Obj, oref: dict[str, object]) -> str:
        """``solid``, ``dangling`` or ``waiting`` (see the module docs)."""
        uid = str(oref.get("uid") or "")
        if uid in self._absent:
            return "dangling"
        owner_ref = self._owner_resource(oref)
        if owner_ref is None:
            kind = (str(oref.get("apiVersion")), str(oref.get("kind")))
            if kind not in self._unknown_kinds:
                self._unknown_kinds.add(kind)
                log.warning(
                    "garbage collector: owner kind %s %s is not served; references to it are kept", *kind
                )
            return "solid"  # cannot check: never delete on a guess
        key = self._owner_key(dependent, owner_ref, oref)
        if key is None:
            return "dangling"
        owner = self.informers[owner_ref].get(key)
        if owner is None or uid_of(owner) != uid:
            # The cache may simply be behind: ask the API server before concluding.
            ns, _, name = key.rpartition("/") if owner_ref.namespaced else (None, "", key)
            try:
                owner = await self.client.get(owner_ref, name, namespace=ns or None)
            except NotFoundError:
                owner = None
            if owner is None or uid_of(owner) != uid:
                self._absent.add(uid)
                return "dangling"
        return "waiting" if _deleting_dependents(owner) else "solid"

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        group, plural, namespace, name = _split(key)
        ref = self._by_plural.get((group, plural))
        if ref is None:
            return None
        obj = self.informers[ref].get(make_key(namespace, name))
        if obj is None:
            return None
        if _orphaning(obj):
            await self._orphan_dependents(ref, obj)
            return None
        if _deleting_dependents(obj):
            await self._process_deleting_dependents(ref, obj)
            return None
        if is_being_deleted(obj):
            return None  # already on its way out; nothing for us to decide
        if owner_references(obj):
            await self._attempt_to_delete(ref, obj)
        return None

    async def _attempt_to_delete(self, ref: ResourceRef, obj: Obj) -> None:
        solid: list[dict[str, object]] = []
        dangling: list[dict[str, object]] = []
        waiting: list[dict[str, object]] = []
        for oref in owner_references(obj):
            state = await self._owner_state(obj, oref)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(oref)
        if solid:
            if dangling or waiting:
                gone = {str(r.get("uid")) for r in dangling + waiting}
                log.info(
                    "garbage collector: removing references to %s from %s %s (it has other owners)",
                    ", ".join(sorted(gone)),
                    ref.kind,
                    _key(ref, obj),
                )
                await self._remove_owner_refs(ref, obj, gone)
            return
        uid = uid_of(obj) or ""
        if waiting and self.dependents(uid):
            policy = "Foreground"
        elif _has_finalizer(obj, ORPHAN):
            policy = "Orphan"
        elif _has_finalizer(obj, FOREGROUND):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info(
            "garbage collector: deleting %s %s/%s (owners gone or being deleted), propagation %s",
            ref.kind,
            namespace_of(obj) or "",
            name_of(obj),
            policy,
        )
        try:
            await self.client.delete(
                ref,
                name_of(obj),
                namespace=namespace_of(obj),
                propagation_policy=policy,
                preconditions={"uid": uid},
            )
        except NotFoundError:
            pass
        except ConflictError:
            pass  # a different object by that name now: its own event brings it here

    async def _process_deleting_dependents(self, ref: ResourceRef, owner: Obj) -> None:
        uid = uid_of(owner) or ""
        dependents = self.dependents(uid)
        blocking = [
            (dref, dep)
            for dref, dep in dependents
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") is True for r in owner_references(dep))
        ]
        for dref, dep in dependents:
            if not is_being_deleted(dep) or _deleting_dependents(dep):
                self._enqueue(dref, dep)
        if blocking:
            log.debug(
                "garbage collector: %s waits for %d blocking dependent(s)", _key(ref, owner), len(blocking)
            )
            return
        await self._remove_finalizer(ref, owner, FOREGROUND)

    async def _orphan_dependents(self, ref: ResourceRef, owner: Obj) -> None:
        uid = uid_of(owner) or ""
        for dref, dep in self.dependents(uid):
            await self._remove_owner_refs(dref, dep, {uid})
        await self._remove_finalizer(ref, owner, ORPHAN)

    # -- writes ------------------------------------------------------------------------------------

    async def _remove_owner_refs(self, ref: ResourceRef, obj: Obj, uids: set[str]) -> None:
        remaining = [r for r in owner_references(obj) if str(r.get("uid")) not in uids]
        patch = {
            "metadata": {
                "ownerReferences": remaining or None,
                "uid": uid_of(obj),
                "resourceVersion": resource_version_of(obj),
            }
        }
        with contextlib.suppress(NotFoundError):
            await self.client.patch(ref, name_of(obj), patch, namespace=namespace_of(obj))

    async def _remove_finalizer(self, ref: ResourceRef, obj: Obj, finalizer: str) -> None:
        remaining = [f for f in metadata(obj).get("finalizers") or [] if f != finalizer]
        patch = {
            "metadata": {
                "finalizers": remaining or None,
                "uid": uid_of(obj),
                "resourceVersion": resource_version_of(obj),
            }
        }
        try:
            await self.client.patch(ref, name_of(obj), patch, namespace=namespace_of(obj))
        except NotFoundError:
            return
        log.info("garbage collector: removed finalizer %s from %s", finalizer, _key(ref, obj))
