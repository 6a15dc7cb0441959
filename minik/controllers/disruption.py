"""Disruption: keep each PodDisruptionBudget's ``status`` current (upstream's disruption controller).

A PodDisruptionBudget limits *voluntary* disruptions of the pods its selector picks. The
eviction API (``pods/eviction``, which ``kubectl drain`` calls) decides from the budget's
``status`` alone, so this controller's job is to keep that status true::

    pods            = the pods in the namespace that the selector picks
                      (a nil selector picks none; {} picks all)
    expectedPods    minAvailable as an integer: len(pods)
                    otherwise: the sum of the scales of the pods' controllers
                    (ReplicationController, Deployment via its ReplicaSet, ReplicaSet,
                    StatefulSet), each counted once
    desiredHealthy  minAvailable: the integer, or the percentage of expectedPods
                    maxUnavailable: expectedPods - the integer or percentage (≥ 0)
                    (percentages round up, as upstream's GetScaledValueFromIntOrPercent)
    currentHealthy  Ready pods that are not being deleted and not listed in
                    status.disruptedPods (recently evicted, not yet gone)
    disruptionsAllowed = max(currentHealthy - desiredHealthy, 0), and 0 when expectedPods is 0
    condition       DisruptionAllowed True/SufficientPods or False/InsufficientPods

``status.disruptedPods`` is written by the eviction API: the pods it has just allowed to
go, so that two evictions racing on the same status cannot both spend the last allowed
disruption. This controller drops entries for pods that are gone or terminating, and
entries older than two minutes (the pod was evidently not deleted), waking up for that.

A percentage needs the pods' controllers; a pod without one, with ``maxUnavailable`` or a
percentage ``minAvailable``, gets a Warning ``UnmanagedPods`` and is left out of the count
(as upstream); a controller that cannot be found makes the sync fail, and the budget then
allows no disruption (``SyncFailed``) until it can be computed again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from minik.api.selectors import LabelSelector, SelectorError
from minik.client.clock import Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
)
from minik.client.objects import (
    Obj,
    controller_ref,
    deepcopy,
    format_time,
    generation_of,
    is_being_deleted,
    labels_of,
    make_key,
    name_of,
    namespace_of,
    object_key,
    parse_optional_time,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.controllers.pods import is_pod_ready
from minik.controllers.rollout import scaled_value
from minik.controllers.status import write_status

log = logging.getLogger(__name__)

#: How long an eviction's entry in ``status.disruptedPods`` is trusted without the pod going.
DELETION_TIMEOUT = timedelta(minutes=2)

DISRUPTION_ALLOWED = "DisruptionAllowed"


class ExpectedCountError(Exception):
    """The expected number of pods cannot be computed (a controller was not found)."""


def selector_of(pdb: Obj) -> LabelSelector | None:
    """The budget's selector; None when it picks no pods (a nil selector, as upstream)."""
    raw = spec_of(pdb).get("selector")
    if not isinstance(raw, dict):
        return None
    try:
        return LabelSelector.from_dict(raw)
    except SelectorError:
        return None


def selects(pdb: Obj, pod: Obj) -> bool:
    selector = selector_of(pdb)
    return selector is not None and selector.matches(labels_of(pod))


def disrupted_pods(pdb: Obj, pods: list[Obj], now: datetime) -> tuple[dict[str, str], datetime | None]:
    """The still-valid ``status.disruptedPods`` entries, and when the oldest one expires."""
    by_name = {name_of(p): p for p in pods}
    kept: dict[str, str] = {}
    recheck: datetime | None = None
    for name, stamp in (status_of(pdb).get("disruptedPods") or {}).items():
        pod = by_name.get(name)
        when = parse_optional_time(stamp)
        if pod is None or is_being_deleted(pod) or when is None:
            continue  # gone or going: the disruption happened
        expires = when + DELETION_TIMEOUT
        if expires < now:
            log.warning(
                "pod %s/%s was expected to be deleted at %s but it wasn't", namespace_of(pod), name, stamp
            )
            continue
        kept[name] = str(stamp)
        recheck = expires if recheck is None else min(recheck, expires)
    return kept, recheck


def count_healthy(pods: list[Obj], disrupted: dict[str, str]) -> int:
    """Ready pods that are neither being deleted nor about to be (evicted moments ago)."""
    return sum(1 for p in pods if not is_being_deleted(p) and name_of(p) not in disrupted and is_pod_ready(p))


def allowed(current_healthy: int, desired_healthy: int, expected: int) -> int:
    """``disruptionsAllowed``: none while nothing is expected (a new budget is safe)."""
    return max(current_healthy - desired_healthy, 0) if expected > 0 else 0


class DisruptionController:
    """Keeps PodDisruptionBudgets' status current (see the module docs)."""

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
        self.pdbs: Informer = factory.informer(PODDISRUPTIONBUDGETS)
        self.pods: Informer = factory.informer(PODS)
        self.replication_controllers: Informer = factory.informer(REPLICATIONCONTROLLERS)
        self.replica_sets: Informer = factory.informer(REPLICASETS)
        self.deployments: Informer = factory.informer(DEPLOYMENTS)
        self.stateful_sets: Informer = factory.informer(STATEFULSETS)
        self.controller = Controller("disruption", self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]

    async def run(self) -> None:
        self.controller.watch(self.pdbs)
        self.pods.add_event_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )
        self.factory.start()
        await self.controller.run(
            wait_for=[
                self.pdbs,
                self.pods,
                self.replication_controllers,
                self.replica_sets,
                self.deployments,
                self.stateful_sets,
            ]
        )

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_changed(new)
        if labels_of(old) != labels_of(new):
            self._pod_changed(old)  # a budget that no longer picks it must recount

    def _pod_changed(self, pod: Obj) -> None:
        for pdb in self.pdbs.list(namespace=namespace_of(pod)):
            if selects(pdb, pod):
                self.controller.enqueue(object_key(pdb))

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None
        selector = selector_of(pdb)
        pods = (
            [p for p in self.pods.list(namespace=namespace_of(pdb)) if selector.matches(labels_of(p))]
            if selector is not None
            else []
        )
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        now = wall_now(self.clock)
        try:
            expected, desired = self.expected_and_desired(pdb, pods)
        except ExpectedCountError as e:
            self.recorder.event(
                pdb,
                WARNING,
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {e}",
            )
            await self._fail_safe(pdb, str(e), now)
            raise
        disrupted, recheck = disrupted_pods(pdb, pods, now)
        healthy = count_healthy(pods, disrupted)
        await self._write_status(pdb, healthy, desired, expected, disrupted, now)
        if recheck is not None:
            return Result(requeue_after=max((recheck - now).total_seconds(), 0.0) + 0.1)
        return None

    def expected_and_desired(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        """``(expectedPods, desiredHealthy)`` as upstream's ``getExpectedPodCount``."""
        spec = spec_of(pdb)
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            expected = self._expected_scale(pdb, pods)
            return expected, max(expected - scaled_value(max_unavailable, expected, round_up=True), 0)
        if isinstance(min_available, int):
            return len(pods), min_available
        if isinstance(min_available, str):
            expected = self._expected_scale(pdb, pods)
            return expected, scaled_value(min_available, expected, round_up=True)
        return 0, 0

    def _expected_scale(self, pdb: Obj, pods: list[Obj]) -> int:
        """The sum of the scales of the pods' controllers, each counted once."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(name_of(pod))
                continue
            if ref.get("uid") in scales:
                continue
            found = self._controller_scale(ref, namespace_of(pod))
            if found is None:
                raise ExpectedCountError(f'found no controllers for pod "{name_of(pod)}"')
            uid, scale = found
            scales[uid] = scale
        if unmanaged:
            self.recorder.event(
                pdb,
                WARNING,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {spec_of(pdb).get('selector')}) were "
                "found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                '".spec.minAvailable" field of the PDB to an integer value.',
            )
        return sum(scales.values())

    def _controller_scale(self, ref: dict[str, Any], namespace: str | None) -> tuple[str, int] | None:
        """(uid, replicas) of the workload a pod's controller reference leads to."""
        kind, name, uid = ref.get("kind"), str(ref.get("name")), ref.get("uid")
        informer = {
            "ReplicationController": self.replication_controllers,
            "ReplicaSet": self.replica_sets,
            "StatefulSet": self.stateful_sets,
        }.get(str(kind))
        if informer is None:
            return None
        owner = informer.get(make_key(namespace, name))
        if owner is None or uid_of(owner) != uid:
            return None
        if kind == "ReplicaSet":
            # A Deployment's pods count against the Deployment's replicas, not one revision's.
            rs_ref = controller_ref(owner)
            if rs_ref is not None and rs_ref.get("kind") == "Deployment":
                deployment = self.deployments.get(make_key(namespace, str(rs_ref.get("name"))))
                if deployment is not None and uid_of(deployment) == rs_ref.get("uid"):
                    return str(uid_of(deployment)), _replicas(deployment)
        return str(uid_of(owner)), _replicas(owner)

    async def _write_status(
        self, pdb: Obj, healthy: int, desired: int, expected: int, disrupted: dict[str, str], now: datetime
    ) -> None:
        old = status_of(pdb)
        status: dict[str, Any] = {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "disruptionsAllowed": allowed(healthy, desired, expected),
            "observedGeneration": generation_of(pdb),
        }
        if disrupted:
            status["disruptedPods"] = disrupted
        if status["disruptionsAllowed"] > 0:
            condition = ("True", "SufficientPods", "")
        else:
            condition = ("False", "InsufficientPods", "")
        status["conditions"] = _set_condition(old, condition, generation_of(pdb), now)
        if status != {k: v for k, v in old.items() if k in status or k == "disruptedPods"}:
            await write_status(self.client, PODDISRUPTIONBUDGETS, pdb, status)

    async def _fail_safe(self, pdb: Obj, message: str, now: datetime) -> None:
        """Allow no disruption while the budget cannot be computed."""
        status = deepcopy(status_of(pdb))
        status["disruptionsAllowed"] = 0
        status["conditions"] = _set_condition(
            status, ("False", "SyncFailed", message), int(status.get("observedGeneration") or 0), now
        )
        if status != status_of(pdb):
            await write_status(self.client, PODDISRUPTIONBUDGETS, pdb, status)


def _replicas(workload: Obj) -> int:
    replicas = spec_of(workload).get("replicas")
    return replicas if isinstance(replicas, int) else 1


def _set_condition(
    status: dict[str, Any], condition: tuple[str, str, str], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """``DisruptionAllowed`` set the way ``meta.SetStatusCondition`` does (time moves on change)."""
    value, reason, message = condition
    conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
    for c in conditions:
        if c.get("type") == DISRUPTION_ALLOWED:
            if c.get("status") != value:
                c["lastTransitionTime"] = format_time(now)
            c.update(status=value, reason=reason, message=message, observedGeneration=generation)
            return conditions
    conditions.append(
        {
            "type": DISRUPTION_ALLOWED,
            "status": value,
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": format_time(now),
        }
    )
    return conditions


__all__ = [
    "DELETION_TIMEOUT",
    "DisruptionController",
    "allowed",
    "count_healthy",
    "disrupted_pods",
    "selects",
]
