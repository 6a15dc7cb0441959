"""StatefulSet: pods with a stable identity, created and removed in order.

A ReplicaSet's pods are interchangeable cattle; a StatefulSet's are named
``<set>-0``, ``<set>-1``, … and each ordinal keeps its identity for life:

* **name and DNS** — pod ``web-1`` gets ``spec.hostname: web-1`` and
  ``spec.subdomain: <serviceName>``, so with a headless Service it resolves as
  ``web-1.<service>.<ns>.svc.cluster.local``; labels
  ``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``
  let a Service select a single member;
* **storage** — every ``volumeClaimTemplates`` entry becomes one
  PersistentVolumeClaim per ordinal, ``<template>-<set>-<ordinal>``, created
  *before* the pod and **not** deleted with it. When ``web-1`` is deleted (or
  its node dies) the new ``web-1`` mounts the same claim and finds its data.
  Claims are only deleted when ``persistentVolumeClaimRetentionPolicy`` says so
  (``whenDeleted: Delete`` makes the set their owner; ``whenScaled: Delete``
  makes a scaled-away pod their owner; the garbage collector does the rest).

**Ordering.** With ``podManagementPolicy: OrderedReady`` (the default) one
reconcile walks ordinals upwards and stops at the first pod that is missing
(it creates it), terminating, or not Running and Ready (it waits): ``web-1``
is only created once ``web-0`` is Ready. Scale-down removes the highest
ordinal first, one at a time, and only when every lower pod is healthy (a
broken pod is the one exception: it may be removed itself). ``Parallel``
creates and deletes without waiting. Either way the controller never has two
pods with one name, because a name is created only when the old pod is gone.

**Updates.** Every template version is saved as a ControllerRevision named
``<set>-<hash>`` (its ``data`` is the strategic patch ``kubectl rollout undo``
applies), and each pod is labelled ``controller-revision-hash`` with the
revision it was made from. ``status.updateRevision`` is the current template's
revision; ``status.currentRevision`` is the one all pods had before the update
started. ``RollingUpdate`` deletes, from the highest ordinal down, one pod at a
time that is not at the update revision, and waits for its replacement to be
healthy before the next; ordinals below ``partition`` are left alone (and are
even re-created at the *current* revision, which is why the old template must
be kept as a revision). ``OnDelete`` only uses the new template for pods that
someone else deletes. When all pods are updated and ready, current becomes
update.

**Races.** No expectations are needed: names are fixed, so a create that our
cache has not seen yet fails with AlreadyExists on the next try instead of
making a second pod, and in ordered mode nothing proceeds past a pod the cache
does not show as Ready.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime
from typing import Any

from minik.client.clock import Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, APIError, NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from minik.client.objects import (
    Obj,
    controller_ref,
    deepcopy,
    generation_of,
    int_field,
    is_being_deleted,
    labels_of,
    make_key,
    name_of,
    namespace_of,
    object_key,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient, PatchType
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    claim_candidates,
    index_by_controller_uid,
    is_controlled_by,
    owners_selecting,
    resolve_controller,
    selector_for,
)
from minik.controllers.podcontrol import pod_from_template
from minik.controllers.pods import (
    is_pod_available,
    is_pod_terminal,
    is_running_and_ready,
    seconds_until_available,
)
from minik.controllers.revisions import (
    CONTROLLER_REVISION_HASH_LABEL,
    canonical,
    new_controller_revision,
    revision_number,
    template_from_revision,
)
from minik.controllers.status import write_status

log = logging.getLogger(__name__)

_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")


def split_ordinal(name: str) -> tuple[str, int] | None:
    """``("web", 3)`` for ``web-3``; None if the name has no ordinal suffix."""
    m = _ORDINAL_RE.match(name)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def pod_name(set_: Obj, ordinal: int) -> str:
    return f"{name_of(set_)}-{ordinal}"


def claim_name(template: Obj, set_: Obj, ordinal: int) -> str:
    """``<template>-<set>-<ordinal>``: the claim ``web-1`` mounts as ``www``."""
    return f"{name_of(template)}-{name_of(set_)}-{ordinal}"


def is_member(set_: Obj, pod: Obj) -> bool:
    parsed = split_ordinal(name_of(pod))
    return parsed is not None and parsed[0] == name_of(set_)


def ordinal_of(pod: Obj) -> int:
    parsed = split_ordinal(name_of(pod))
    return parsed[1] if parsed else -1


def pod_revision(pod: Obj) -> str:
    return labels_of(pod).get(CONTROLLER_REVISION_HASH_LABEL, "")


def _claim_templates(set_: Obj) -> list[Obj]:
    return [t for t in spec_of(set_).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def _retention(set_: Obj) -> dict[str, str]:
    policy = spec_of(set_).get("persistentVolumeClaimRetentionPolicy")
    policy = policy if isinstance(policy, dict) else {}
    return {
        "whenDeleted": str(policy.get("whenDeleted") or "Retain"),
        "whenScaled": str(policy.get("whenScaled") or "Retain"),
    }


def _owner_ref(owner: Obj) -> dict[str, Any]:
    """A plain (non-controller) owner reference, as retention policies set on claims."""
    return {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner.get("kind", "Pod"),
        "name": name_of(owner),
        "uid": uid_of(owner),
        "blockOwnerDeletion": True,
    }


def new_claims(set_: Obj, ordinal: int) -> list[Obj]:
    """The PersistentVolumeClaims ordinal ``ordinal`` needs (unsaved)."""
    selector_labels = (spec_of(set_).get("selector") or {}).get("matchLabels") or {}
    claims = []
    for template in _claim_templates(set_):
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {
            "name": claim_name(template, set_, ordinal),
            "namespace": namespace_of(set_),
            "labels": {**(tmeta.get("labels") or {}), **selector_labels},
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        if _retention(set_)["whenDeleted"] == "Delete":
            meta["ownerReferences"] = [_owner_ref(set_)]
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": meta,
                "spec": deepcopy(spec_of(template)),
            }
        )
    return claims


def new_pod(set_: Obj, template: Obj, revision: str, ordinal: int) -> Obj:
    """Pod ``<set>-<ordinal>`` from ``template`` with its identity and storage."""
    name = pod_name(set_, ordinal)
    pod = pod_from_template(
        template,
        set_,
        name=name,
        extra_labels={
            POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(ordinal),
            CONTROLLER_REVISION_HASH_LABEL: revision,
        },
    )
    spec = pod["spec"]
    spec["hostname"] = name
    service = spec_of(set_).get("serviceName")
    if service:
        spec["subdomain"] = service
    claim_volumes = {
        name_of(t): {"name": name_of(t), "persistentVolumeClaim": {"claimName": claim_name(t, set_, ordinal)}}
        for t in _claim_templates(set_)
    }
    if claim_volumes:
        volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claim_volumes]
        spec["volumes"] = [*volumes, *claim_volumes.values()]
    return pod


def identity_matches(set_: Obj, pod: Obj, ordinal: int) -> bool:
    labels = labels_of(pod)
    name = pod_name(set_, ordinal)
    return labels.get(POD_NAME_LABEL) == name and labels.get(POD_INDEX_LABEL) == str(ordinal)


class StatefulSetController:
    """Keeps every StatefulSet's ordinals, claims and revisions (see the module docs)."""

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        workers: int = 2,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.clock = clock
        indexers = {CONTROLLER_UID_INDEX: index_by_controller_uid}
        self.sets: Informer = factory.informer(STATEFULSETS)
        self.pods: Informer = factory.informer(PODS, indexers=indexers)
        self.claims: Informer = factory.informer(PERSISTENTVOLUMECLAIMS)
        self.revisions: Informer = factory.informer(CONTROLLERREVISIONS, indexers=indexers)
        self.controller = Controller("statefulset", self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.controller.watch(self.sets)
        self.pods.add_event_handler(
            on_add=self._pod_event, on_update=self._pod_updated, on_delete=self._pod_event
        )
        self.factory.start()
        await self.controller.run(wait_for=[self.sets, self.pods, self.claims, self.revisions])

    def _pod_event(self, pod: Obj) -> None:
        owner = resolve_controller(pod, "StatefulSet", self.sets.get)
        if owner is not None:
            self.controller.enqueue(object_key(owner))
        elif controller_ref(pod) is None:
            for set_ in owners_selecting(self.sets.list(namespace=namespace_of(pod)), pod):
                if is_member(set_, pod):
                    self.controller.enqueue(object_key(set_))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if controller_ref(old) != controller_ref(new):
            self._pod_event(old)
        self._pod_event(new)

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        set_ = self.sets.get(key)
        if set_ is None:
            return None
        selector = selector_for(set_)
        if selector.empty:
            self.recorder.event(
                set_, WARNING, "SelectingAll", "This statefulset is selecting all pods. Skipping."
            )
            return None

        pods = await ClaimManager(
            self.client, set_, STATEFULSETS, selector, extra_match=lambda p: is_member(set_, p)
        ).claim(PODS, claim_candidates(self.pods.store, set_))
        revisions = await ClaimManager(self.client, set_, STATEFULSETS, selector).claim(
            CONTROLLERREVISIONS, claim_candidates(self.revisions.store, set_)
        )
        revisions.sort(key=lambda r: (revision_number(r), name_of(r)))
        current, update, revisions = await self._get_revisions(set_, revisions)

        status, requeue = await self._update_pods(set_, current, update, pods)
        if status != status_of(set_):
            await write_status(self.client, STATEFULSETS, set_, status)
        await self._truncate_history(set_, pods, revisions, current, update)
        return Result(requeue_after=requeue) if requeue is not None else None

    async def _get_revisions(self, set_: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, list[Obj]]:
        """(current, update, all revisions): find or make the revision of the current template."""
        collision = int_field(status_of(set_), "collisionCount") or None
        next_number = (revision_number(revisions[-1]) if revisions else 0) + 1
        template = spec_of(set_).get("template") or {}
        update = new_controller_revision(set_, template, next_number, collision)
        equal = [r for r in revisions if canonical(r.get("data")) == canonical(update["data"])]
        if equal and equal[-1] is revisions[-1]:
            update = revisions[-1]  # nothing changed
        elif equal:
            # A rollback to an earlier template: that revision becomes the newest again.
            bumped = deepcopy(equal[-1])
            bumped["revision"] = next_number
            update = await self.client.update(CONTROLLERREVISIONS, bumped)
            revisions = [r for r in revisions if uid_of(r) != uid_of(update)] + [update]
        else:
            try:
                update = await self.client.create(CONTROLLERREVISIONS, update)
            except AlreadyExistsError:
                found = await self.client.get(
                    CONTROLLERREVISIONS, name_of(update), namespace=namespace_of(set_)
                )
                if not (
                    is_controlled_by(found, set_)
                    and canonical(found.get("data")) == canonical(update["data"])
                ):
                    status = deepcopy(status_of(set_))
                    status["collisionCount"] = int_field(status, "collisionCount") + 1
                    await write_status(self.client, STATEFULSETS, set_, status)
                    raise
                update = found
            revisions = [*revisions, update]
        wanted = status_of(set_).get("currentRevision")
        current = next((r for r in revisions if name_of(r) == wanted), None) or update
        return current, update, revisions

    async def _update_pods(
        self, set_: Obj, current: Obj, update: Obj, pods: list[Obj]
    ) -> tuple[dict[str, Any], float | None]:
        spec = spec_of(set_)
        replicas = int_field(spec, "replicas", 1)
        min_ready = int_field(spec, "minReadySeconds")
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") if isinstance(spec.get("updateStrategy"), dict) else {}
        assert isinstance(strategy, dict)
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int_field(strategy.get("rollingUpdate") or {}, "partition") if rolling else 0
        now = wall_now(self.clock)

        slots: list[Obj | None] = [None] * replicas
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if 0 <= ordinal < replicas:
                slots[ordinal] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=ordinal_of, reverse=True)

        def healthy(pod: Obj | None) -> bool:
            return pod is not None and is_running_and_ready(pod) and not is_being_deleted(pod)

        first_unhealthy = next((p for p in [*slots, *condemned] if not healthy(p)), None)

        def finish() -> tuple[dict[str, Any], float | None]:
            return self._status(set_, current, update, [*slots, *condemned], now)

        if is_being_deleted(set_):
            return finish()

        # 1. Every ordinal below replicas: create what is missing, in order.
        for ordinal in range(replicas):
            slot = slots[ordinal]
            if slot is not None and is_pod_terminal(slot) and not is_being_deleted(slot):
                # A finished pod is replaced: delete it, then re-create the name.
                self._event(
                    set_,
                    NORMAL,
                    "SuccessfulDelete",
                    f"delete Pod {name_of(slot)} in StatefulSet {name_of(set_)} successful",
                )
                slot = slots[ordinal] = await self._delete_pod(slot)
                if slot is not None:
                    return finish()  # still there: wait for it to go
            if slot is None:
                created = await self._create_pod(set_, current, update, ordinal, partition if rolling else 0)
                slots[ordinal] = created
                if monotonic:
                    return finish()
                continue
            if is_being_deleted(slot):
                if monotonic:
                    return finish()  # wait for it to terminate before going further
                continue
            if not is_running_and_ready(slot):
                if monotonic:
                    return finish()
                continue
            if not is_pod_available(slot, min_ready, now) and monotonic:
                return finish()
            if not identity_matches(set_, slot, ordinal):
                slots[ordinal] = await self._fix_identity(set_, slot, ordinal)

        # 2. Ordinals at or above replicas: remove them, highest first.
        for i, pod in enumerate(condemned):
            if is_being_deleted(pod):
                if monotonic:
                    return finish()
                continue
            if (
                monotonic
                and pod is not first_unhealthy
                and (not is_running_and_ready(pod) or not is_pod_available(pod, min_ready, now))
            ):
                return finish()  # a lower pod is unhealthy: do not shrink past it
            await self._release_claims_on_scale_down(set_, pod)
            self._event(
                set_,
                NORMAL,
                "SuccessfulDelete",
                f"delete Pod {name_of(pod)} in StatefulSet {name_of(set_)} successful",
            )
            remaining = await self._delete_pod(pod)
            if remaining is not None:
                condemned[i] = remaining
            else:
                condemned[i] = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "now"}}
            if monotonic:
                return finish()

        # 3. Rolling update: replace the highest ordinal not at the update revision.
        if rolling:
            for ordinal in range(replicas - 1, partition - 1, -1):
                current_pod = slots[ordinal]
                if current_pod is None:
                    break
                if pod_revision(current_pod) != name_of(update) and not is_being_deleted(current_pod):
                    log.info(
                        "statefulset %s: replacing %s for revision %s",
                        object_key(set_),
                        name_of(current_pod),
                        name_of(update),
                    )
                    self._event(
                        set_,
                        NORMAL,
                        "SuccessfulDelete",
                        f"delete Pod {name_of(current_pod)} in StatefulSet {name_of(set_)} successful",
                    )
                    remaining = await self._delete_pod(current_pod)
                    slots[ordinal] = remaining if remaining is not None else None
                    break
                if not healthy(current_pod):
                    break
        return finish()

    def _status(
        self, set_: Obj, current: Obj, update: Obj, pods: list[Obj | None], now: datetime
    ) -> tuple[dict[str, Any], float | None]:
        min_ready = int_field(spec_of(set_), "minReadySeconds")
        counts = {
            "replicas": 0,
            "readyReplicas": 0,
            "availableReplicas": 0,
            "currentReplicas": 0,
            "updatedReplicas": 0,
        }
        waits: list[float] = []
        for pod in pods:
            if pod is None:
                continue
            counts["replicas"] += 1
            if is_running_and_ready(pod):
                counts["readyReplicas"] += 1
                if is_pod_available(pod, min_ready, now):
                    counts["availableReplicas"] += 1
                elif (w := seconds_until_available(pod, min_ready, now)) is not None:
                    waits.append(w)
            if not is_being_deleted(pod):
                if pod_revision(pod) == name_of(current):
                    counts["currentReplicas"] += 1
                if pod_revision(pod) == name_of(update):
                    counts["updatedReplicas"] += 1
        status: dict[str, Any] = {"observedGeneration": generation_of(set_), **counts}
        status["currentRevision"] = name_of(current)
        status["updateRevision"] = name_of(update)
        strategy = spec_of(set_).get("updateStrategy") or {}
        if (
            strategy.get("type", "RollingUpdate") == "RollingUpdate"
            and counts["updatedReplicas"] == counts["replicas"]
            and counts["readyReplicas"] == counts["replicas"]
        ):
            # Rollout complete: the update revision becomes the current one.
            status["currentReplicas"] = counts["updatedReplicas"]
            status["currentRevision"] = name_of(update)
        old = status_of(set_)
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if status[key] == 0:
                del status[key]  # omitempty, as upstream serialises it
        return status, (min(waits) + 0.1 if waits else None)

    # -- actions ----------------------------------------------------------------------------------

    def _event(self, set_: Obj, kind: str, reason: str, message: str) -> None:
        self.recorder.event(set_, kind, reason, message)

    async def _create_pod(
        self, set_: Obj, current: Obj, update: Obj, ordinal: int, partition: int
    ) -> Obj | None:
        revision = current if ordinal < partition else update
        template = template_from_revision(revision) or (spec_of(set_).get("template") or {})
        pod = new_pod(set_, template, name_of(revision), ordinal)
        await self._ensure_claims(set_, ordinal, name_of(pod))
        try:
            created = await self.client.create(PODS, pod)
        except AlreadyExistsError:
            return None  # our cache is behind; the pod's ADDED event will bring us back
        except APIError as exc:
            self._event(
                set_,
                WARNING,
                "FailedCreate",
                f"create Pod {name_of(pod)} in StatefulSet {name_of(set_)} failed error: {exc.message}",
            )
            raise
        self._event(
            set_,
            NORMAL,
            "SuccessfulCreate",
            f"create Pod {name_of(pod)} in StatefulSet {name_of(set_)} successful",
        )
        return created

    async def _ensure_claims(self, set_: Obj, ordinal: int, pod: str) -> None:
        for claim in new_claims(set_, ordinal):
            existing = self.claims.get(make_key(namespace_of(set_), name_of(claim)))
            if existing is not None:
                if is_being_deleted(existing):
                    raise RuntimeError(
                        f"PersistentVolumeClaim {name_of(claim)} is being deleted; waiting before creating {pod}"
                    )
                continue
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim)
            except AlreadyExistsError:
                continue
            except APIError as exc:
                self._event(
                    set_,
                    WARNING,
                    "FailedCreate",
                    f"create Claim {name_of(claim)} for Pod {pod} in StatefulSet {name_of(set_)} failed error: {exc.message}",
                )
                raise
            self._event(
                set_,
                NORMAL,
                "SuccessfulCreate",
                f"create Claim {name_of(claim)} Pod {pod} in StatefulSet {name_of(set_)} success",
            )

    async def _delete_pod(self, pod: Obj) -> Obj | None:
        """Delete; returns the pod if it still exists (graceful), else None."""
        try:
            answer = await self.client.delete(
                PODS, name_of(pod), namespace=namespace_of(pod), preconditions={"uid": uid_of(pod) or ""}
            )
        except NotFoundError:
            return None
        return answer if answer.get("kind") == "Pod" else None

    async def _fix_identity(self, set_: Obj, pod: Obj, ordinal: int) -> Obj:
        name = pod_name(set_, ordinal)
        return await self.client.patch(
            PODS,
            name_of(pod),
            {"metadata": {"labels": {POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)}}},
            namespace=namespace_of(pod),
            type=PatchType.MERGE,
        )

    async def _release_claims_on_scale_down(self, set_: Obj, pod: Obj) -> None:
        """``whenScaled: Delete``: the pod being scaled away becomes its claims' owner."""
        if _retention(set_)["whenScaled"] != "Delete":
            return
        for claim in new_claims(set_, ordinal_of(pod)):
            existing = self.claims.get(make_key(namespace_of(set_), name_of(claim)))
            if existing is None or any(
                r.get("uid") == uid_of(pod) for r in existing["metadata"].get("ownerReferences") or []
            ):
                continue
            with contextlib.suppress(NotFoundError):
                await self.client.patch(
                    PERSISTENTVOLUMECLAIMS,
                    name_of(existing),
                    {"metadata": {"ownerReferences": [_owner_ref(pod)]}},
                    namespace=namespace_of(existing),
                    type=PatchType.STRATEGIC,
                )

    async def _truncate_history(
        self, set_: Obj, pods: list[Obj], revisions: list[Obj], current: Obj, update: Obj
    ) -> None:
        limit = spec_of(set_).get("revisionHistoryLimit")
        limit = limit if isinstance(limit, int) else 10
        live = {pod_revision(p) for p in pods} | {name_of(current), name_of(update)}
        history = [r for r in revisions if name_of(r) not in live]
        for revision in history[: max(len(history) - limit, 0)]:
            with contextlib.suppress(NotFoundError):
                await self.client.delete(
                    CONTROLLERREVISIONS, name_of(revision), namespace=namespace_of(revision)
                )


__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "StatefulSetController",
    "claim_name",
    "new_claims",
    "new_pod",
]
