"""ReplicaSet and ReplicationController: keep exactly N pods running.

Both controllers are one algorithm with two selector flavours: a
ReplicationController (``v1``) selects pods with a plain equality map
(``{app: web}``), a ReplicaSet (``apps/v1``) with a ``LabelSelector``
(``matchLabels`` + ``matchExpressions``, so ``tier in (web, api)`` works).

One reconcile of ``namespace/name``::

    owner = cache[key]                       (gone → forget its expectations)
    pods  = its pods + orphans               (via the controller-uid index)
    pods  = claim(pods)                      adopt matching orphans, release
                                             children that no longer match
    if expectations satisfied:               (all our creates/deletes seen)
        diff = len(active pods) - replicas
        diff < 0 → create -diff pods         slow start: 1, 2, 4, 8 …
        diff > 0 → delete the diff "cheapest" pods (see pods.deletion_order)
    write status (replicas, fullyLabeledReplicas, readyReplicas,
                  availableReplicas, observedGeneration, ReplicaFailure)

**Why expectations.** The pods we create reach our cache through the watch,
some milliseconds later. Any reconcile in between (a status write of our own
triggers one) would see too few pods and create them again. So before
creating, the controller records how many creations it expects; the pod
ADDED handler counts them down; while any are outstanding the reconcile only
writes status. Deletions are expected by pod key. See
:class:`minik.controllers.expectations.Expectations`.

**Handlers only map events to keys.** A pod event is mapped to its controller
owner's key (checking the owner's uid, so pods of a deleted-and-recreated
ReplicaSet of the same name are not confused); an *orphan* pod event is mapped
to every ReplicaSet in the namespace whose selector matches it, since any of
them may adopt it. A pod whose ``deletionTimestamp`` was just set counts as
deleted at once: it no longer counts towards replicas, so the replacement
starts while the old pod is still shutting down.

**Availability** needs time: a pod is available ``minReadySeconds`` after it
became ready, and no event marks that moment, so the reconcile asks to be
requeued after ``minReadySeconds`` while ready and available counts differ.

Events: ``SuccessfulCreate``/``SuccessfulDelete`` per pod, ``FailedCreate``/
``FailedDelete`` warnings, as ``kubectl describe rs`` shows them upstream.
"""

from __future__ import annotations

import logging
from typing import Any

from minik.client.clock import Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import APIConnectionError, APIError
from minik.client.events import WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import PODS, REPLICASETS, REPLICATIONCONTROLLERS, ResourceRef
from minik.client.objects import (
    Obj,
    controller_ref,
    format_time,
    generation_of,
    group_of,
    int_field,
    is_being_deleted,
    labels_of,
    make_key,
    namespace_of,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.controllers.expectations import Expectations
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    OwnedObjectEvents,
    claim_candidates,
    index_by_controller_uid,
    selector_for,
)
from minik.controllers.podcontrol import BURST_REPLICAS, PodControl, pod_from_template
from minik.controllers.pods import (
    deletion_order,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    seconds_until_available,
)
from minik.controllers.status import set_condition, write_status

log = logging.getLogger(__name__)


class ReplicatedPodsController:
    """Keeps ``spec.replicas`` pods for every owner of :attr:`resource`: the algorithm
    both :class:`ReplicaSetController` and :class:`ReplicationControllerController` run
    (they only pick the resource)."""

    resource: ResourceRef = REPLICASETS
    #: Name of the controller (queue name, log prefix, event source is the recorder's).
    controller_name = "replicaset"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        workers: int = 2,
        burst_replicas: int = BURST_REPLICAS,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.burst_replicas = burst_replicas
        self.clock = clock
        self.expectations = Expectations(clock=clock)
        self.pod_control = PodControl(client, recorder, self.expectations)
        self.owners: Informer = factory.informer(self.resource)
        self.pods: Informer = factory.informer(PODS, indexers={CONTROLLER_UID_INDEX: index_by_controller_uid})
        self.controller = Controller(self.controller_name, self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]

    # -- wiring -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.controller.watch(self.owners)
        OwnedObjectEvents(
            self.controller,
            self.owners,
            self._owner_of,
            expectations=self.expectations,
            requeue_for_availability=True,
        ).register(self.pods)
        self.factory.start()
        await self.controller.run(wait_for=[self.owners, self.pods])

    def _owner_of(self, pod: Obj) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != self.resource.kind or not ref.get("name"):
            return None
        if group_of(str(ref.get("apiVersion", ""))) != self.resource.group:
            return None
        owner = self.owners.get(make_key(namespace_of(pod), str(ref["name"])))
        if owner is None or uid_of(owner) != ref.get("uid"):
            return None
        return owner

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.delete(key)
            return None
        selector = selector_for(owner)
        if selector.empty:
            self.recorder.event(
                owner, WARNING, "SelectingAll", "This controller is selecting all pods. Skipping."
            )
            return None
        needs_sync = self.expectations.satisfied(key) and not is_being_deleted(owner)

        candidates = [p for p in claim_candidates(self.pods.store, owner) if is_pod_active(p)]
        claims = ClaimManager(self.client, owner, self.resource, selector)
        pods = await claims.claim(PODS, candidates)

        manage_error: BaseException | None = None
        if needs_sync:
            try:
                await self._manage_replicas(key, owner, pods)
            except (APIError, APIConnectionError) as exc:
                manage_error = exc

        now = wall_now(self.clock)
        status = self._calculate_status(owner, pods, manage_error, format_time(now))
        if status != status_of(owner):
            await write_status(self.client, self.resource, owner, status)
        if manage_error is not None:
            raise manage_error
        min_ready = int_field(spec_of(owner), "minReadySeconds")
        waits = [w for p in pods if (w := seconds_until_available(p, min_ready, now)) is not None]
        if waits:
            return Result(requeue_after=min(waits) + 0.1)
        return None

    async def _manage_replicas(self, key: str, owner: Obj, pods: list[Obj]) -> None:
        desired = int_field(spec_of(owner), "replicas", 1)
        diff = len(pods) - desired
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            log.info(
                "%s %s: too few replicas (%d/%d), creating %d",
                self.resource.kind,
                key,
                len(pods),
                desired,
                count,
            )
            template = spec_of(owner).get("template") or {}
            await self.pod_control.sync_pods(
                key, owner, create=count, new_pod=lambda _: pod_from_template(template, owner)
            )
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            victims = deletion_order(pods)[:count]
            log.info(
                "%s %s: too many replicas (%d/%d), deleting %d",
                self.resource.kind,
                key,
                len(pods),
                desired,
                count,
            )
            await self.pod_control.sync_pods(key, owner, delete=victims)

    def _calculate_status(
        self, owner: Obj, pods: list[Obj], manage_error: BaseException | None, now_text: str
    ) -> dict[str, Any]:
        spec = spec_of(owner)
        template_labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        min_ready = int_field(spec, "minReadySeconds")
        now = wall_now(self.clock)
        fully_labeled = sum(1 for p in pods if labels_of(p).items() >= template_labels.items())
        ready = [p for p in pods if is_pod_ready(p)]
        available = sum(1 for p in ready if is_pod_available(p, min_ready, now))
        old = status_of(owner)
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": len(ready),
            "availableReplicas": available,
            "observedGeneration": generation_of(owner),
        }
        for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if status[key] == 0:
                del status[key]  # omitempty, as upstream serialises it (replicas is always there)
        conditions = [dict(c) for c in old.get("conditions") or [] if isinstance(c, dict)]
        if manage_error is not None:
            reason = "FailedCreate" if len(pods) < int_field(spec, "replicas", 1) else "FailedDelete"
            message = getattr(manage_error, "message", None) or str(manage_error)
            set_condition(conditions, "ReplicaFailure", "True", reason, message, now_text)
        else:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        if conditions:
            status["conditions"] = conditions
        return status


class ReplicaSetController(ReplicatedPodsController):
    """Keeps ``spec.replicas`` pods for every ReplicaSet (set-based selectors)."""

    resource = REPLICASETS
    controller_name = "replicaset"


class ReplicationControllerController(ReplicatedPodsController):
    """Keeps ``spec.replicas`` pods for every ReplicationController (equality selectors)."""

    resource = REPLICATIONCONTROLLERS
    controller_name = "replicationcontroller"


__all__ = ["ReplicaSetController", "ReplicatedPodsController", "ReplicationControllerController"]
