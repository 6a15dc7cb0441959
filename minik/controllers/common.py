"""What every workload controller shares: pods from templates, ownership, expectations.

The workload controllers (ReplicaSet, ReplicationController, Deployment,
StatefulSet, DaemonSet, Job) all do the same few things around their own
logic, and this module holds those things once. Other controllers may use any
of it; nothing here knows about a particular kind.

**Owner references.** A controller marks what it made with an
``ownerReferences`` entry that has ``controller: true`` (at most one per
object) and ``blockOwnerDeletion: true`` (so a foreground delete of the owner
waits for it). :func:`controller_ref_to` builds that entry. The owner's *uid*
is what counts: a ReplicaSet deleted and re-created under the same name is a
different owner, and its predecessor's pods are not its own.

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

**Expectations.** A controller that creates three pods will not see them in its
informer cache until the watch delivers them. A reconcile that runs in between
(another event for the same owner) would count zero pods and create three more.
:class:`Expectations` (upstream's ``ControllerExpectations`` with UID-tracking
deletions) closes that window: before creating *n* pods the controller records
"expect *n* creations for this owner"; the pod informer's ADDED handler lowers
the count; until it reaches zero the reconcile updates status but does not
create or delete. Deletions are tracked by pod key, so only the deletions we
asked for count. A record older than five minutes is treated as satisfied, so a
lost watch event can delay a controller but never wedge it. Failed creates
lower the count at once, since the informer will never see those pods.

**Slow start.** :func:`slow_start_batch` creates in batches of 1, 2, 4, 8, …
and stops at the first failing batch: a quota or admission error then costs one
failed call, not five hundred.

**Pod readiness.** A pod is *ready* when its ``Ready`` condition is ``True``,
and *available* when it has been ready for at least ``minReadySeconds``
(measured from the condition's ``lastTransitionTime``). Controllers count
available pods to decide how fast a rollout may go.

**Which pod to delete.** :func:`deletion_order` ranks pods the way upstream's
``ActivePodsWithRanks`` does: the pod whose loss hurts least goes first —
unscheduled before scheduled, Pending before Unknown before Running, not ready
before ready, pods doubled up on a node before lonely ones, lower
``controller.kubernetes.io/pod-deletion-cost`` first, ready for a shorter time,
more restarts, and finally the newest.

**Hashes and revisions.** :func:`compute_hash` is the short, DNS-safe hash of a
pod template that Deployments put in ``pod-template-hash`` and DaemonSets and
StatefulSets in ``controller-revision-hash``; the ControllerRevision helpers
snapshot a template so an old one can be re-created (StatefulSet partitions,
``kubectl rollout undo``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from minik.api.selectors import LabelSelector
from minik.client.clock import REAL_CLOCK, Clock
from minik.client.errors import APIError, ConflictError, NotFoundError
from minik.client.kinds import ResourceRef
from minik.client.objects import (
    Obj,
    controller_ref,
    deepcopy,
    make_key,
    metadata,
    name_of,
    namespace_of,
    object_key,
    parse_time,
    uid_of,
)
from minik.client.rest import APIClient, PatchType

log = logging.getLogger(__name__)

# -- well-known names --------------------------------------------------------------------------

#: Deployment → ReplicaSet → Pod: which template (hash) a ReplicaSet and its pods belong to.
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
#: DaemonSet/StatefulSet pods: which ControllerRevision (template) made them.
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
#: ControllerRevisions: the hash part of their name.
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
#: Lower cost → deleted first when a controller scales down.
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

#: Name of the pod-informer index that maps a pod to its *controller* owner's uid.
CONTROLLER_UID_INDEX = "controller-uid"
_ORPHAN_PREFIX = "orphan:"

#: Never create or delete more than this many pods in one reconcile (upstream's burstReplicas).
BURST_REPLICAS = 500
#: Expectations older than this are considered satisfied (upstream's ExpectationsTimeout).
EXPECTATIONS_TTL = 300.0


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
    return f"{_ORPHAN_PREFIX}{namespace or ''}"


# -- time --------------------------------------------------------------------------------------


def wall_now(clock: Clock | None = None) -> datetime:
    return (clock or REAL_CLOCK).wall()


def parse_optional_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


# -- small accessors ---------------------------------------------------------------------------


def spec_of(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def status_of(obj: Obj) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def labels_of(obj: Obj) -> dict[str, str]:
    labels = metadata(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(obj: Obj) -> dict[str, str]:
    annotations = metadata(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def generation_of(obj: Obj) -> int:
    return int(metadata(obj).get("generation") or 0)


def is_being_deleted(obj: Obj) -> bool:
    return bool(metadata(obj).get("deletionTimestamp"))


def int_field(obj: dict[str, Any], key: str, default: int = 0) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def creation_time(obj: Obj) -> datetime | None:
    return parse_optional_time(metadata(obj).get("creationTimestamp"))


def creation_sort_key(obj: Obj) -> tuple[float, str]:
    """Oldest first; the name breaks ties (creation times have whole seconds)."""
    created = creation_time(obj)
    return (created.timestamp() if created else 0.0, name_of(obj))


# -- pods --------------------------------------------------------------------------------------


def pod_phase(pod: Obj) -> str:
    return str(status_of(pod).get("phase") or "")


def is_pod_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: its containers will never run again."""
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Counts towards a controller's replicas: not finished and not being deleted."""
    return not is_pod_terminal(pod) and not is_being_deleted(pod)


def pod_condition(pod: Obj, kind: str) -> dict[str, Any] | None:
    for cond in status_of(pod).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: Obj) -> datetime | None:
    """When the pod last became ready (None if it is not ready)."""
    cond = pod_condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_optional_time(cond.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and ready for at least ``min_ready_seconds`` (upstream's ``IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """For a ready but not yet available pod: how long until it is (else None)."""
    if min_ready_seconds <= 0 or not is_pod_ready(pod):
        return None
    since = pod_ready_since(pod)
    if since is None:
        return None
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def is_running_and_ready(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def pod_restarts(pod: Obj) -> int:
    status = status_of(pod)
    counts = [
        int_field(cs, "restartCount")
        for list_name in ("containerStatuses", "initContainerStatuses")
        for cs in status.get(list_name) or []
        if isinstance(cs, dict)
    ]
    return max(counts, default=0)


def _deletion_cost(pod: Obj) -> int:
    try:
        return int(annotations_of(pod).get(POD_DELETION_COST_ANNOTATION, "0"))
    except ValueError:
        return 0


def deletion_rank(pod: Obj, colocated: int = 0) -> tuple[Any, ...]:
    """Sort key: pods that compare *smaller* should be deleted *first*.

    ``colocated`` is how many pods of the same owner share this pod's node;
    spreading survives a node loss better, so doubled-up pods go first.
    """
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod_phase(pod), 3)
    ready = is_pod_ready(pod)
    since = pod_ready_since(pod) if ready else None
    created = creation_time(pod)
    return (
        1 if spec_of(pod).get("nodeName") else 0,  # unscheduled first
        phase_rank,  # Pending < Unknown < Running
        1 if ready else 0,  # not ready first
        -colocated,  # more pods on the same node first
        _deletion_cost(pod),  # cheaper first
        -(since.timestamp() if since else 0.0),  # ready for less time first
        -pod_restarts(pod),  # restarting more first
        -(created.timestamp() if created else 0.0),  # newer first
        name_of(pod),  # deterministic
    )


def deletion_order(pods: Sequence[Obj]) -> list[Obj]:
    """``pods`` sorted so the best candidates for deletion come first (see the module docs)."""
    per_node: dict[str, int] = {}
    for pod in pods:
        node = str(spec_of(pod).get("nodeName") or "")
        if node:
            per_node[node] = per_node.get(node, 0) + 1
    return sorted(
        pods, key=lambda p: deletion_rank(p, per_node.get(str(spec_of(p).get("nodeName") or ""), 0))
    )


# -- ownership ---------------------------------------------------------------------------------


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


def pod_name_prefix(owner_name: str) -> str:
    """``generateName`` for an owner's pods: ``web-`` (the server appends 5 characters)."""
    prefix = f"{owner_name}-"
    # A generated name must fit in 63 characters; keep room for the random suffix.
    return prefix if len(prefix) <= 58 else prefix[:57] + "-"


def pod_from_template(
    template: Obj,
    owner: Obj,
    *,
    generate_name: str | None = None,
    name: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    """A new Pod stamped out of a pod template, controlled by ``owner``.

    Labels, annotations and finalizers come from the template's metadata (its
    ``name`` is ignored), the spec is a deep copy; the pod gets ``owner``'s
    namespace and a controller reference to it. Pass ``name`` for a fixed
    name (StatefulSet) or ``generate_name`` (default ``<owner>-``) to let the
    server append a random suffix.
    """
    tmpl = deepcopy(template)
    tmeta = tmpl.get("metadata") if isinstance(tmpl.get("metadata"), dict) else {}
    assert isinstance(tmeta, dict)
    meta: dict[str, Any] = {"namespace": namespace_of(owner)}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or pod_name_prefix(name_of(owner))
    labels = dict(tmeta.get("labels") or {})
    if extra_labels:
        labels.update(extra_labels)
    if labels:
        meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [controller_ref_to(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl.get("spec") or {}}


def selector_for(owner: Obj) -> LabelSelector:
    """The owner's label selector (a ReplicationController's plain map or a LabelSelector)."""
    selector = spec_of(owner).get("selector")
    if owner.get("kind") == "ReplicationController":
        return LabelSelector.from_set(selector if isinstance(selector, dict) else None)
    return LabelSelector.from_dict(selector if isinstance(selector, dict) else None)


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


def claim_candidates(pod_informer_store: Any, owner: Obj) -> list[Obj]:
    """An owner's pods plus the orphans of its namespace, via :data:`CONTROLLER_UID_INDEX`.

    Objects controlled by a *different* owner are never candidates, which is
    exactly what :meth:`ClaimManager.claim` would skip anyway.
    """
    own = pod_informer_store.by_index(CONTROLLER_UID_INDEX, uid_of(owner) or "")
    orphans = pod_informer_store.by_index(CONTROLLER_UID_INDEX, orphan_index_value(namespace_of(owner)))
    result: list[Obj] = [*own, *orphans]
    return result


# -- expectations ------------------------------------------------------------------------------


@dataclass
class _Expectation:
    add: int
    deletions: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    """Creations and deletions a controller is waiting to see (see the module docs).

    Keys are owner keys (``namespace/name``); deletions are tracked by pod key.
    """

    def __init__(self, *, ttl: float = EXPECTATIONS_TTL, clock: Clock | None = None) -> None:
        self.ttl = ttl
        self._clock = clock or REAL_CLOCK
        self._records: dict[str, _Expectation] = {}

    def expect_creations(self, key: str, count: int) -> None:
        """Replace ``key``'s record: ``count`` creations are on their way."""
        self._records[key] = _Expectation(add=count, stamp=self._clock.now())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Replace ``key``'s record: these pods are being deleted."""
        self._records[key] = _Expectation(add=0, deletions=set(pod_keys), stamp=self._clock.now())

    def expect(self, key: str, creations: int, pod_keys: Iterable[str]) -> None:
        """Both at once (DaemonSets create on some nodes while deleting on others)."""
        self._records[key] = _Expectation(add=creations, deletions=set(pod_keys), stamp=self._clock.now())

    def creation_observed(self, key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.deletions.discard(pod_key)

    def lower_creations(self, key: str, count: int) -> None:
        """Creations that failed (or were never attempted) will never be observed."""
        record = self._records.get(key)
        if record is not None:
            record.add -= count

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, nothing was ever recorded, or the record expired."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.add <= 0 and not record.deletions:
            return True
        if self._clock.now() - record.stamp > self.ttl:
            log.warning(
                "expectations for %s expired (add=%d, del=%d); resyncing",
                key,
                record.add,
                len(record.deletions),
            )
            return True
        return False

    def pending(self, key: str) -> tuple[int, int]:
        """``(creations, deletions)`` still expected (for logs and tests)."""
        record = self._records.get(key)
        return (0, 0) if record is None else (max(record.add, 0), len(record.deletions))

    def delete(self, key: str) -> None:
        self._records.pop(key, None)


# -- batches -----------------------------------------------------------------------------------


async def slow_start_batch(
    count: int, initial_batch: int, fn: Callable[[int], Awaitable[object]]
) -> tuple[int, BaseException | None]:
    """Call ``fn(i)`` ``count`` times in growing concurrent batches (1, 2, 4, …).

    Stops after the first batch with a failure. Returns how many calls
    succeeded and the first error (None if all succeeded).
    """
    done = 0
    successes = 0
    batch = min(count, max(initial_batch, 1))
    while batch > 0:
        results = await asyncio.gather(*(fn(done + i) for i in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        for err in errors:
            if isinstance(err, asyncio.CancelledError):
                raise err
        if errors:
            return successes, errors[0]
        done += batch
        batch = min(2 * batch, count - done)
    return successes, None


# -- status writes -----------------------------------------------------------------------------


async def write_status(client: APIClient, resource: ResourceRef, obj: Obj, status: dict[str, Any]) -> Obj:
    """PUT ``status`` to ``obj``'s status subresource; on a conflict re-read once and retry.

    ``obj`` is the cached object (not mutated). An object that is gone (or was
    replaced by a new one of the same name) is not an error: ``obj`` is returned. The retry matters because a
    status write races with spec writes by people: losing that race is normal
    and the status we computed is still right for the same generation.
    """
    body = deepcopy(obj)
    body["status"] = status
    try:
        try:
            return await client.update_status(resource, body)
        except ConflictError:
            fresh = await client.get(resource, name_of(obj), namespace=namespace_of(obj))
            if uid_of(fresh) != uid_of(obj):
                return obj  # deleted and re-created meanwhile: its own reconcile will write
            fresh["status"] = status
            return await client.update_status(resource, fresh)
    except NotFoundError:
        return obj  # deleted meanwhile: nobody needs its status any more


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    with_update_time: bool = False,
) -> bool:
    """Set condition ``kind`` in place; returns whether anything changed.

    The transition time only moves when the status changes; a condition
    already in the same status with the same reason and message is left alone.
    Deployments also keep ``lastUpdateTime`` (``with_update_time``).
    """
    for i, cond in enumerate(conditions):
        if cond.get("type") != kind:
            continue
        if cond.get("status") == status and cond.get("reason") == reason and cond.get("message") == message:
            return False
        new: dict[str, Any] = {"type": kind, "status": status, "reason": reason, "message": message}
        if with_update_time:
            new["lastUpdateTime"] = now
        new["lastTransitionTime"] = cond.get("lastTransitionTime") if cond.get("status") == status else now
        conditions[i] = new
        return True
    added: dict[str, Any] = {"type": kind, "status": status, "reason": reason, "message": message}
    if with_update_time:
        added["lastUpdateTime"] = now
    added["lastTransitionTime"] = now
    conditions.append(added)
    return True


def get_condition(obj_status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in obj_status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


# -- hashes and revisions ----------------------------------------------------------------------

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Map characters into an alphabet without vowels (no accidental words) or
    look-alikes, as upstream's ``rand.SafeEncodeString`` does."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def compute_hash(obj: Any, collision_count: int | None = None) -> str:
    """A short DNS-label-safe hash of a JSON value (a pod template), e.g. ``"7d4b9c8f6"``.

    FNV-32a over canonical JSON (sorted keys), plus the collision count when
    one is set — bumping ``status.collisionCount`` is how a controller gets a
    different name after a hash collision with an unrelated object.
    """
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += collision_count.to_bytes(4, "little", signed=False)
    return safe_encode(str(fnv32a(data)))


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes, for equality of JSON values regardless of key order."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def revision_data(template: Obj) -> dict[str, Any]:
    """A ControllerRevision's ``data``: a strategic patch that restores ``spec.template``.

    This is the shape ``kubectl rollout undo`` applies for DaemonSets and
    StatefulSets, so minik's revisions work with the real kubectl.
    """
    tmpl = deepcopy(template)
    tmpl["$patch"] = "replace"
    return {"spec": {"template": tmpl}}


def template_from_revision(revision: Obj) -> Obj:
    data = revision.get("data")
    spec = data.get("spec") if isinstance(data, dict) else None
    tmpl = spec.get("template") if isinstance(spec, dict) else None
    result = deepcopy(tmpl) if isinstance(tmpl, dict) else {}
    result.pop("$patch", None)
    return result


def revision_number(revision: Obj) -> int:
    return int_field(revision, "revision")


def new_controller_revision(
    owner: Obj,
    template: Obj,
    revision: int,
    collision_count: int | None,
    *,
    hash_: str | None = None,
    hash_label: str = REVISION_HASH_LABEL,
) -> Obj:
    """An unsaved ControllerRevision snapshotting ``template`` for ``owner``.

    Named ``<owner>-<hash>``. StatefulSets hash the revision data and label it
    ``controller.kubernetes.io/hash`` (the defaults); DaemonSets pass the hash
    of the template itself and ``controller-revision-hash``, as upstream does.
    """
    data = revision_data(template)
    if hash_ is None:
        hash_ = compute_hash(data, collision_count)
    labels = dict(((template.get("metadata") or {}).get("labels")) or {})
    labels[hash_label] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{name_of(owner)}-{hash_}",
            "namespace": namespace_of(owner),
            "labels": labels,
            "ownerReferences": [controller_ref_to(owner)],
        },
        "data": data,
        "revision": revision,
    }


def revision_hash(revision: Obj) -> str:
    """The hash part of a ControllerRevision (its label, else the name suffix)."""
    value = labels_of(revision).get(REVISION_HASH_LABEL)
    if value:
        return value
    return name_of(revision).rsplit("-", 1)[-1]


# -- names -------------------------------------------------------------------------------------

_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")


def split_ordinal(name: str) -> tuple[str, int] | None:
    """``("web", 3)`` for ``web-3``; None if the name has no ordinal suffix."""
    m = _ORDINAL_RE.match(name)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


__all__ = [
    "BURST_REPLICAS",
    "CONTROLLER_REVISION_HASH_LABEL",
    "CONTROLLER_UID_INDEX",
    "POD_DELETION_COST_ANNOTATION",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_HASH_LABEL",
    "ClaimManager",
    "Expectations",
    "canonical",
    "claim_candidates",
    "compute_hash",
    "controller_ref_to",
    "deletion_order",
    "deletion_rank",
    "index_by_controller_uid",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "is_pod_terminal",
    "pod_from_template",
    "resolve_controller",
    "slow_start_batch",
    "write_status",
]
