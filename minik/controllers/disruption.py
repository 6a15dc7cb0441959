"""The disruption controller: keeps each PodDisruptionBudget's ``status`` counting.

A budget (``policy/v1`` PodDisruptionBudget) says how many of its pods must stay
healthy. The eviction subresource decides on the spot whether one more pod may go,
and it decides from the numbers this controller writes::

    PDB web  minAvailable: 2,  selector app=web
      pods app=web:  a Ready, b Ready, c Ready
      = status: expectedPods 3, currentHealthy 3, desiredHealthy 2, disruptionsAllowed 1

**desiredHealthy and expectedPods** (upstream's ``getExpectedPodCount``):

* ``minAvailable: 2`` (a number): desired 2; expected is the number of pods selected;
* ``minAvailable: "50%"`` or ``maxUnavailable`` (number or percentage): the percentage
  needs a whole to be a percentage *of*, so expected is the *scale* the pods' controllers
  ask for -- the ``spec.replicas`` of the Deployment (through its ReplicaSet), ReplicaSet,
  StatefulSet or ReplicationController that owns each pod, summed over the distinct
  controllers (upstream's ``getExpectedScale``). Percentages round up. With
  ``maxUnavailable`` the desired count is expected minus the unavailable allowance.
  A pod with no controller cannot be scaled from: a Warning ``UnmanagedPods`` says so;
  a controller of a kind minik cannot scale makes the sync fail *safe* (no disruptions
  allowed, condition reason ``SyncFailed``).

**currentHealthy** counts the selected pods that are Ready, not being deleted, and not
recently evicted: the eviction subresource records every pod it lets go in
``status.disruptedPods``; until the pod is really deleting (or two minutes pass, after
which a ``NotDeleted`` Warning says the pod unexpectedly stayed) it is not counted,
so a second eviction cannot spend the same headroom.

**disruptionsAllowed** is ``currentHealthy - desiredHealthy``, never below 0, and 0
when there are no expected pods (a budget that matches nothing yet must not let the
first pods be evicted before it has seen them).

The status is written with the cached resourceVersion as a precondition. The eviction
subresource writes the same status (when it spends a disruption); a conflict means one
of its writes came in between, and the budget is simply synced again from the newer
cache -- never overwritten with numbers computed from the old one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from minik.api import disruption
from minik.api.validation.common import int_or_percent_value
from minik.client.controller import Controller, Result
from minik.client.errors import ConflictError, NotFoundError
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
    group_of,
    is_being_deleted,
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

log = logging.getLogger(__name__)

DELETION_TIMEOUT = timedelta(seconds=disruption.DELETION_TIMEOUT_SECONDS)


class ExpectedScaleError(Exception):
    """A selected pod's controller is not one whose scale can be read."""


def _percentage(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("%")


def _scaled(value: Any, total: int) -> int:
    """A number as is, a percentage of ``total`` rounded up (upstream's roundUp=true)."""
    number = int_or_percent_value(value) or 0
    return math.ceil(number * total / 100) if _percentage(value) else number


def _replicas(obj: Obj) -> int:
    replicas = spec_of(obj).get("replicas")
    return replicas if isinstance(replicas, int) else 1


class ScaleFinder:
    """The scale of a pod's controller, read from the informer caches."""

    def __init__(self, deployments: Informer, replicasets: Informer, statefulsets: Informer, rcs: Informer):
        self.deployments = deployments
        self.replicasets = replicasets
        self.statefulsets = statefulsets
        self.rcs = rcs

    def controller_and_scale(self, pod: Obj) -> tuple[str, int] | None:
        """``(uid, replicas)`` of the controller whose scale counts for ``pod``; None: unmanaged.

        Raises :class:`ExpectedScaleError` when the pod has a controller this cannot read.
        """
        ref = controller_ref(pod)
        if ref is None:
            return None
        namespace = namespace_of(pod)
        kind, group = ref.get("kind"), group_of(str(ref.get("apiVersion", "")))
        informer = {
            ("ReplicaSet", "apps"): self.replicasets,
            ("StatefulSet", "apps"): self.statefulsets,
            ("ReplicationController", ""): self.rcs,
        }.get((str(kind), group))
        owner = informer.get(make_key(namespace, str(ref.get("name")))) if informer is not None else None
        if owner is None or uid_of(owner) != ref.get("uid"):
            raise ExpectedScaleError(f'found no controllers for pod "{name_of(pod)}"')
        if kind == "ReplicaSet":
            deployment_ref = controller_ref(owner)
            if deployment_ref is not None and deployment_ref.get("kind") == "Deployment":
                deployment = self.deployments.get(make_key(namespace, str(deployment_ref.get("name"))))
                if deployment is None or uid_of(deployment) != deployment_ref.get("uid"):
                    raise ExpectedScaleError(f'found no controllers for pod "{name_of(pod)}"')
                owner = deployment
        return str(uid_of(owner)), _replicas(owner)

    def expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        """The summed scale of the pods' distinct controllers, and the unmanaged pods' names."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            found = self.controller_and_scale(pod)
            if found is None:
                unmanaged.append(name_of(pod))
            else:
                scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged


def expected_counts(pdb: Obj, pods: list[Obj], finder: ScaleFinder) -> tuple[int, int, list[str]]:
    """``(expectedPods, desiredHealthy, unmanaged pod names)`` for a budget (see module docs)."""
    spec = spec_of(pdb)
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    if max_unavailable is not None:
        expected, unmanaged = finder.expected_scale(pods)
        return expected, max(expected - _scaled(max_unavailable, expected), 0), unmanaged
    if min_available is not None:
        if not _percentage(min_available):
            return len(pods), _scaled(min_available, len(pods)), []
        expected, unmanaged = finder.expected_scale(pods)
        return expected, _scaled(min_available, expected), unmanaged
    return 0, 0, []


def disrupted_pods(
    pdb: Obj, pods: list[Obj], now: datetime
) -> tuple[dict[str, str], list[str], datetime | None]:
    """The ``disruptedPods`` still pending, the ones overdue, and when to look again.

    An entry stays while its pod exists, is not yet deleting, and was evicted less
    than two minutes ago; an overdue one is dropped (and reported by the caller).
    """
    recorded = status_of(pdb).get("disruptedPods") or {}
    by_name = {name_of(p): p for p in pods}
    kept: dict[str, str] = {}
    overdue: list[str] = []
    recheck: datetime | None = None
    for name, when in sorted(recorded.items()):
        pod = by_name.get(name)
        if pod is None or is_being_deleted(pod):
            continue
        evicted = parse_optional_time(when)
        if evicted is None:
            continue
        expires = evicted + DELETION_TIMEOUT
        if expires < now:
            overdue.append(name)
            continue
        kept[name] = when
        recheck = expires if recheck is None or expires < recheck else recheck
    return kept, overdue, recheck


def count_healthy(pods: list[Obj], disrupted: dict[str, str]) -> int:
    """Ready pods that are neither being deleted nor on their way out after an eviction."""
    return sum(
        1
        for pod in pods
        if not is_being_deleted(pod) and name_of(pod) not in disrupted and disruption.is_pod_ready(pod)
    )


class DisruptionController:
    """Keeps ``status`` of every PodDisruptionBudget (see the module docs)."""

    name = "disruption"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.budgets = factory.informer(PODDISRUPTIONBUDGETS)
        self.pods = factory.informer(PODS)
        workloads = [
            factory.informer(r) for r in (DEPLOYMENTS, REPLICASETS, STATEFULSETS, REPLICATIONCONTROLLERS)
        ]
        self.finder = ScaleFinder(*workloads)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.controller.watch(self.budgets)
        self.pods.add_event_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )
        for informer in workloads:
            # A scale change moves expectedPods of the budgets over its pods.
            informer.add_event_handler(on_update=lambda _old, new: self._namespace_changed(new))
        self._informers = [self.budgets, self.pods, *workloads]

    # -- handlers ---------------------------------------------------------------------------------

    def _pod_changed(self, pod: Obj) -> None:
        for pdb in self.budgets.list(namespace=namespace_of(pod)):
            if disruption.covers(pdb, pod):
                self.controller.enqueue(object_key(pdb))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        # Old labels too: a pod relabelled out of a budget leaves it.
        self._pod_changed(old)
        self._pod_changed(new)

    def _namespace_changed(self, obj: Obj) -> None:
        for pdb in self.budgets.list(namespace=namespace_of(obj)):
            self.controller.enqueue(object_key(pdb))

    # -- reconcile --------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.controller.run(wait_for=self._informers)

    async def reconcile(self, key: str) -> Result | None:
        pdb = self.budgets.get(key)
        if pdb is None:
            return None
        selector = disruption.budget_selector(pdb)
        pods = [
            p
            for p in self.pods.list(namespace=namespace_of(pdb))
            if selector.matches(p["metadata"].get("labels"))
        ]
        now = self.clock()
        if not pods:
            self._event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = expected_counts(pdb, pods, self.finder)
        except ExpectedScaleError as exc:
            self._event(
                pdb,
                WARNING,
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {exc}",
            )
            return await self._write(pdb, self._fail_safe(pdb, now))
        if unmanaged:
            self._event(
                pdb,
                WARNING,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {spec_of(pdb).get('selector')}) were found"
                " to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may"
                ' result in undefined behavior. To account for these pods please set ".spec.minAvailable" field'
                " of the PDB to an integer value.",
            )
        kept, overdue, recheck = disrupted_pods(pdb, pods, now)
        by_name = {name_of(p): p for p in pods}
        for name in overdue:
            self._event(
                by_name[name],
                WARNING,
                "NotDeleted",
                f"Pod was expected by PDB {key} to be deleted but it wasn't",
            )
        healthy = count_healthy(pods, kept)
        allowed = healthy - desired if expected > 0 else 0
        status: Obj = {
            **status_of(pdb),
            "observedGeneration": generation_of(pdb),
            "disruptionsAllowed": max(allowed, 0),
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
        }
        if kept:
            status["disruptedPods"] = kept
        else:
            status.pop("disruptedPods", None)
        disruption.set_disruption_allowed(status, format_time(now))
        result = await self._write(pdb, status)
        if result is None and recheck is not None:
            return Result(requeue_after=max((recheck - now).total_seconds(), 0.5))
        return result

    def _fail_safe(self, pdb: Obj, now: datetime) -> Obj:
        """No disruptions while the numbers cannot be worked out (upstream's failSafe)."""
        status: Obj = {**status_of(pdb), "disruptionsAllowed": 0, "observedGeneration": generation_of(pdb)}
        disruption.set_disruption_allowed(status, format_time(now), reason=disruption.SYNC_FAILED)
        return status

    async def _write(self, pdb: Obj, status: Obj) -> Result | None:
        if status == status_of(pdb):
            return None
        body = deepcopy(pdb)
        body["status"] = status
        try:
            await self.client.update_status(PODDISRUPTIONBUDGETS, body)
        except ConflictError:
            # An eviction (or a spec edit) came first: sync again from the newer cache.
            return Result(requeue=True)
        except NotFoundError:
            return None
        log.debug(
            "pdb %s: %d healthy, %d desired, %d allowed",
            object_key(pdb),
            status.get("currentHealthy", 0),
            status.get("desiredHealthy", 0),
            status["disruptionsAllowed"],
        )
        return None

    def _event(self, pdb: Obj, kind: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(pdb, kind, reason, message)


__all__ = ["DisruptionController", "ExpectedScaleError", "ScaleFinder", "count_healthy", "expected_counts"]
