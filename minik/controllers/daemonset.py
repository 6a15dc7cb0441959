"""DaemonSet: one pod on every eligible node.

Where a ReplicaSet counts pods, a DaemonSet counts *nodes*: for each Node it
asks "should a daemon pod run here?" and makes the answer true::

    for node in nodes:
        should_run, may_keep = node_should_run(ds, node)
        no pod and should_run      → create one, pinned to this node
        pods and not may_keep      → delete them (node relabelled, NoExecute taint)
        a Failed pod               → delete it (with per-node backoff), so it is re-created
        several pods (no surge)    → keep the oldest
    unscheduled pods for nodes that no longer exist → delete

**Eligibility** (``node_should_run``) follows upstream's predicates:
``spec.template.spec.nodeName`` (if set) must name the node, the template's
``nodeSelector`` and *required* node affinity terms must match the node's
labels (and ``metadata.name`` for ``matchFields``), and every ``NoSchedule`` /
``NoExecute`` taint must be tolerated — the same rules the scheduler applies,
from :mod:`minik.api.nodeaffinity` and :mod:`minik.api.taints`. A pod already
running on a node whose new taint is only ``NoSchedule`` may stay; an
untolerated ``NoExecute`` taint evicts it. Daemon pods tolerate what makes
sense for node agents: not-ready and unreachable nodes (``NoExecute``, forever
— no ``tolerationSeconds``), disk, memory and PID pressure, unschedulable
(cordoned) nodes, and, for host-network pods, an unavailable pod network.

**Pinning.** Like upstream since Kubernetes 1.12 the controller does not set
``spec.nodeName`` itself: each pod gets a required node affinity
``matchFields: metadata.name In [<node>]`` and the scheduler binds it. That way
the scheduler still accounts for the pod's resources and preemption works.
(Set ``pin_with_node_name=True`` to bind directly, for clusters without a
scheduler.)

**Updates** are tracked with ControllerRevisions: the revision of the current
template is ``<ds>-<hash>`` and every pod carries ``controller-revision-hash``.
``RollingUpdate`` with ``maxUnavailable`` deletes old pods while at most that
many nodes lack an available daemon pod (old pods that are not available
anyway are replaced at once); with ``maxSurge`` it instead starts the new pod
next to the old one and deletes the old one once the new is available.
``OnDelete`` only uses the new template for pods someone else deletes.

**Expectations** guard creates and deletes exactly as for ReplicaSets (see
:mod:`minik.controllers.expectations`; :mod:`minik.controllers.podcontrol`
does the creating and deleting): until the informer has shown every pod we
created or deleted, a reconcile only updates status.

Status: ``desiredNumberScheduled`` (eligible nodes), ``currentNumberScheduled``
(eligible nodes with a pod), ``numberMisscheduled`` (pods on ineligible
nodes), ``numberReady``, ``numberAvailable``, ``numberUnavailable``,
``updatedNumberScheduled``, ``observedGeneration``.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from minik.api.nodeaffinity import RequiredNodeAffinity
from minik.api.selectors import LabelSelector, SelectorError
from minik.api.taints import NO_EXECUTE, NO_SCHEDULE, Toleration, find_untolerated_taint, taints_of
from minik.client.clock import REAL_CLOCK, Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, APIConnectionError, APIError, NotFoundError
from minik.client.events import WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from minik.client.objects import (
    Obj,
    creation_sort_key,
    deepcopy,
    generation_of,
    int_field,
    is_being_deleted,
    labels_of,
    name_of,
    namespace_of,
    object_key,
    spec_of,
    status_of,
)
from minik.client.rest import APIClient
from minik.controllers.expectations import Expectations
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    OwnedObjectEvents,
    claim_candidates,
    index_by_controller_uid,
    is_controlled_by,
    resolve_controller,
    selector_for,
)
from minik.controllers.podcontrol import BURST_REPLICAS, PodControl, pod_from_template
from minik.controllers.pods import is_pod_available, is_pod_ready, is_pod_terminal, pod_phase
from minik.controllers.revisions import (
    CONTROLLER_REVISION_HASH_LABEL,
    canonical,
    compute_hash,
    new_controller_revision,
    revision_data,
    revision_number,
)
from minik.controllers.rollout import scaled_value
from minik.controllers.status import write_status

log = logging.getLogger(__name__)

#: Tolerations every daemon pod gets (upstream's ``AddOrUpdateDaemonPodTolerations``).
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}

FAILED_POD_BACKOFF_INITIAL = 1.0
FAILED_POD_BACKOFF_MAX = 900.0


# -- node eligibility (pure) ------------------------------------------------------------------------


def daemon_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod spec's tolerations plus the daemon defaults (replacing same key+effect)."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE_TOLERATION)
    existing = [t for t in pod_spec.get("tolerations") or [] if isinstance(t, dict)]
    keys = {(t["key"], t["effect"]) for t in wanted}
    kept = [t for t in existing if (t.get("key"), t.get("effect")) not in keys]
    return [*kept, *(dict(t) for t in wanted)]


def node_should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """``(should_run, may_continue_running)`` for ``ds`` on ``node`` (see the module docs)."""
    pod_spec = (spec_of(ds).get("template") or {}).get("spec") or {}
    wanted_node = pod_spec.get("nodeName")
    if wanted_node and wanted_node != name_of(node):
        return False, False
    if not RequiredNodeAffinity(pod_spec).matches(labels_of(node), name_of(node)):
        return False, False
    tolerations = [Toleration.from_dict(t) for t in daemon_tolerations(pod_spec)]
    taints = taints_of(spec_of(node))
    if find_untolerated_taint(taints, tolerations, (NO_SCHEDULE, NO_EXECUTE)) is not None:
        return False, find_untolerated_taint(taints, tolerations, (NO_EXECUTE,)) is None
    return True, True


def pin_to_node(pod_spec: dict[str, Any], node: str) -> None:
    """Replace the required node affinity with ``metadata.name In [node]`` (upstream's
    ``ReplaceDaemonSetPodNodeNameNodeAffinity``); preferred terms are kept."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = pod_spec.setdefault("affinity", {}) or {}
    pod_spec["affinity"] = affinity
    node_affinity = affinity.setdefault("nodeAffinity", {}) or {}
    affinity["nodeAffinity"] = node_affinity
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}


def target_node(pod: Obj) -> str | None:
    """The node a daemon pod is on, or is pinned to while unscheduled."""
    node = spec_of(pod).get("nodeName")
    if node:
        return str(node)
    required = ((spec_of(pod).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            values = req.get("values") or []
            if req.get("key") == "metadata.name" and req.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return None


def pod_hash(pod: Obj) -> str:
    return labels_of(pod).get(CONTROLLER_REVISION_HASH_LABEL, "")


def _oldest_first(pods: list[Obj]) -> list[Obj]:
    """Scheduled pods first, then by creation time (upstream's ``podByCreationTimestampAndPhase``)."""
    return sorted(pods, key=lambda p: (0 if spec_of(p).get("nodeName") else 1, *creation_sort_key(p)))


def updated_and_old(pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """``(new pod, old pod, ok)`` on one node; not ok when there are several of a kind."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if is_being_deleted(pod):
            continue
        if pod_hash(pod) == hash_:
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


# -- the controller --------------------------------------------------------------------------------


class DaemonSetController:
    """Runs one pod per eligible node for every DaemonSet (see the module docs)."""

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        workers: int = 2,
        burst_replicas: int = BURST_REPLICAS,
        pin_with_node_name: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.burst_replicas = burst_replicas
        self.pin_with_node_name = pin_with_node_name
        self.clock = clock
        self._time = clock or REAL_CLOCK
        self.expectations = Expectations(clock=clock)
        self.pod_control = PodControl(client, recorder, self.expectations)
        indexers = {CONTROLLER_UID_INDEX: index_by_controller_uid}
        self.daemonsets: Informer = factory.informer(DAEMONSETS)
        self.pods: Informer = factory.informer(PODS, indexers=indexers)
        self.nodes: Informer = factory.informer(NODES)
        self.revisions: Informer = factory.informer(CONTROLLERREVISIONS, indexers=indexers)
        self.controller = Controller("daemonset", self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]
        # (daemonset key, node) → (failures, monotonic time before which we wait)
        self._failed_backoff: dict[tuple[str, str], tuple[int, float]] = {}

    # -- wiring -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.controller.watch(self.daemonsets)
        OwnedObjectEvents(
            self.controller, self.daemonsets, self._owner_of, expectations=self.expectations
        ).register(self.pods)
        self.nodes.add_event_handler(
            on_add=lambda n: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda n: self._enqueue_all(),
        )
        self.factory.start()
        await self.controller.run(wait_for=[self.daemonsets, self.pods, self.nodes, self.revisions])

    def _enqueue_all(self) -> None:
        for ds in self.daemonsets.list():
            self.controller.enqueue(object_key(ds))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        # Heartbeats change node status every few seconds; only what affects placement matters.
        if labels_of(old) != labels_of(new) or spec_of(old) != spec_of(new):
            self._enqueue_all()

    def _owner_of(self, pod: Obj) -> Obj | None:
        return resolve_controller(pod, "DaemonSet", self.daemonsets.get)

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        try:
            selector = selector_for(ds)
        except SelectorError as exc:
            self.recorder.event(ds, WARNING, "InvalidSelector", str(exc))
            return None
        if selector.empty:
            self.recorder.event(
                ds,
                WARNING,
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return None

        candidates = [
            p
            for p in claim_candidates(self.pods.store, ds)
            if not (is_being_deleted(p) and is_pod_terminal(p))
        ]
        pods = await ClaimManager(self.client, ds, DAEMONSETS, selector).claim(PODS, candidates)
        if is_being_deleted(ds):
            return None
        hash_, old_revisions = await self._construct_history(ds, selector)
        nodes = sorted(self.nodes.list(), key=name_of)
        by_node = self._pods_by_node(pods)

        requeue: float | None = None
        error: BaseException | None = None
        if self.expectations.satisfied(key):
            try:
                requeue = await self._manage(key, ds, nodes, by_node, hash_)
                if self.expectations.satisfied(key) and self._strategy_type(ds) == "RollingUpdate":
                    await self._rolling_update(key, ds, nodes, by_node, hash_)
                await self._cleanup_history(ds, pods, old_revisions)
            except (APIError, APIConnectionError) as exc:
                error = exc

        status, status_requeue = self._status(ds, nodes, by_node, hash_)
        if status != status_of(ds):
            await write_status(self.client, DAEMONSETS, ds, status)
        if error is not None:
            raise error
        waits = [w for w in (requeue, status_requeue) if w is not None]
        return Result(requeue_after=min(waits)) if waits else None

    @staticmethod
    def _strategy_type(ds: Obj) -> str:
        strategy = spec_of(ds).get("updateStrategy") or {}
        return str(strategy.get("type") or "RollingUpdate")

    @staticmethod
    def _pods_by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            node = target_node(pod)
            if node:
                by_node.setdefault(node, []).append(pod)
        return by_node

    # -- history ----------------------------------------------------------------------------------

    async def _construct_history(self, ds: Obj, selector: LabelSelector) -> tuple[str, list[Obj]]:
        """The hash of the current template's revision (creating it if needed) and the old ones."""
        revisions = await ClaimManager(self.client, ds, DAEMONSETS, selector).claim(
            CONTROLLERREVISIONS, claim_candidates(self.revisions.store, ds)
        )
        template = spec_of(ds).get("template") or {}
        data = canonical(revision_data(template))
        current = [r for r in revisions if canonical(r.get("data")) == data]
        old = [r for r in revisions if canonical(r.get("data")) != data]
        next_number = max((revision_number(r) for r in old), default=0) + 1
        if not current:
            collision = int_field(status_of(ds), "collisionCount") or None
            hash_ = compute_hash(template, collision)
            revision = new_controller_revision(
                ds, template, next_number, collision, hash_=hash_, hash_label=CONTROLLER_REVISION_HASH_LABEL
            )
            try:
                cur = await self.client.create(CONTROLLERREVISIONS, revision)
            except AlreadyExistsError:
                found = await self.client.get(
                    CONTROLLERREVISIONS, name_of(revision), namespace=namespace_of(ds)
                )
                if not (is_controlled_by(found, ds) and canonical(found.get("data")) == data):
                    status = deepcopy(status_of(ds))
                    status["collisionCount"] = int_field(status, "collisionCount") + 1
                    await write_status(self.client, DAEMONSETS, ds, status)
                    raise
                cur = found
        else:
            current.sort(key=revision_number)
            cur = current[-1]
            for duplicate in current[:-1]:  # two revisions of one template: keep the newest
                with contextlib.suppress(NotFoundError):
                    await self.client.delete(
                        CONTROLLERREVISIONS, name_of(duplicate), namespace=namespace_of(ds)
                    )
            if revision_number(cur) < next_number:  # rolled back to this template: it is newest again
                bumped = deepcopy(cur)
                bumped["revision"] = next_number
                cur = await self.client.update(CONTROLLERREVISIONS, bumped)
        hash_ = labels_of(cur).get(CONTROLLER_REVISION_HASH_LABEL) or name_of(cur).rsplit("-", 1)[-1]
        return hash_, old

    async def _cleanup_history(self, ds: Obj, pods: list[Obj], old: list[Obj]) -> None:
        limit = spec_of(ds).get("revisionHistoryLimit")
        limit = limit if isinstance(limit, int) else 10
        excess = len(old) - limit
        if excess <= 0:
            return
        live = {pod_hash(p) for p in pods}
        for revision in sorted(old, key=revision_number):
            if excess <= 0:
                break
            if labels_of(revision).get(CONTROLLER_REVISION_HASH_LABEL) in live:
                continue
            with contextlib.suppress(NotFoundError):
                await self.client.delete(
                    CONTROLLERREVISIONS, name_of(revision), namespace=namespace_of(revision)
                )
            excess -= 1

    # -- manage -----------------------------------------------------------------------------------

    async def _manage(
        self, key: str, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> float | None:
        """Create missing daemon pods, delete misplaced and failed ones; return a backoff requeue."""
        surge_allowed = self._max_surge_spec(ds)
        to_create: list[str] = []
        to_delete: list[Obj] = []
        requeue: float | None = None
        for node in nodes:
            node_name = name_of(node)
            should_run, may_continue = node_should_run(ds, node)
            pods = by_node.get(node_name, [])
            if should_run and not pods:
                to_create.append(node_name)
            elif may_continue:
                running: list[Obj] = []
                for pod in pods:
                    if is_being_deleted(pod):
                        continue
                    if pod_phase(pod) == "Failed":
                        wait = self._failed_pod_wait(key, node_name)
                        if wait is None:
                            self.recorder.event(
                                ds,
                                WARNING,
                                "FailedDaemonPod",
                                f"Found failed daemon pod {namespace_of(pod)}/{name_of(pod)} on node {node_name}, will try to kill it",
                            )
                            to_delete.append(pod)
                        else:
                            requeue = wait if requeue is None else min(requeue, wait)
                        continue
                    running.append(pod)
                if len(running) > 1:
                    to_delete.extend(self._excess(ds, running, hash_, surge_allowed))
            elif pods:
                to_delete.extend(p for p in pods if not is_being_deleted(p))
        # Unscheduled pods pinned to nodes that are gone will never run.
        known = {name_of(n) for n in nodes}
        for node_name, pods in by_node.items():
            if node_name not in known:
                to_delete.extend(
                    p for p in pods if not spec_of(p).get("nodeName") and not is_being_deleted(p)
                )
        await self._sync_nodes(key, ds, to_delete, to_create, hash_)
        return requeue

    def _excess(self, ds: Obj, running: list[Obj], hash_: str, surge_allowed: bool) -> list[Obj]:
        ordered = _oldest_first(running)
        if not surge_allowed:
            return ordered[1:]
        # With surge, a node may hold one old and one new pod while the new one becomes available.
        oldest_new: Obj | None = None
        oldest_old: Obj | None = None
        extra: list[Obj] = []
        for pod in ordered:
            if pod_hash(pod) == hash_ and oldest_new is None:
                oldest_new = pod
            elif pod_hash(pod) != hash_ and oldest_old is None:
                oldest_old = pod
            else:
                extra.append(pod)
        if oldest_new is not None and oldest_old is not None:
            min_ready = int_field(spec_of(ds), "minReadySeconds")
            if not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, wall_now(self.clock)):
                extra.append(oldest_old)
        return extra

    def _failed_pod_wait(self, key: str, node: str) -> float | None:
        """None: delete the failed pod now; else seconds to wait (exponential per node)."""
        now = self._time.now()
        failures, until = self._failed_backoff.get((key, node), (0, 0.0))
        if now < until:
            return until - now
        delay = min(FAILED_POD_BACKOFF_INITIAL * 2**failures, FAILED_POD_BACKOFF_MAX)
        self._failed_backoff[(key, node)] = (failures + 1, now + delay)
        return None

    def _new_pod(self, ds: Obj, node: str, hash_: str) -> Obj:
        template = deepcopy(spec_of(ds).get("template") or {})
        spec = template.setdefault("spec", {})
        spec["tolerations"] = daemon_tolerations(spec)
        if self.pin_with_node_name:
            spec["nodeName"] = node
        else:
            pin_to_node(spec, node)
        return pod_from_template(template, ds, extra_labels={CONTROLLER_REVISION_HASH_LABEL: hash_})

    async def _sync_nodes(
        self, key: str, ds: Obj, to_delete: list[Obj], to_create: list[str], hash_: str
    ) -> None:
        to_create = to_create[: self.burst_replicas]
        to_delete = to_delete[: self.burst_replicas]
        await self.pod_control.sync_pods(
            key,
            ds,
            create=len(to_create),
            new_pod=lambda i: self._new_pod(ds, to_create[i], hash_),
            delete=to_delete,
        )

    # -- rolling update ---------------------------------------------------------------------------

    @staticmethod
    def _rolling(ds: Obj) -> dict[str, Any]:
        rolling = (spec_of(ds).get("updateStrategy") or {}).get("rollingUpdate")
        return rolling if isinstance(rolling, dict) else {"maxUnavailable": 1, "maxSurge": 0}

    def _max_surge_spec(self, ds: Obj) -> bool:
        if self._strategy_type(ds) != "RollingUpdate":
            return False
        return bool(scaled_value(self._rolling(ds).get("maxSurge"), 1, round_up=True))

    async def _rolling_update(
        self, key: str, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> None:
        rolling = self._rolling(ds)
        min_ready = int_field(spec_of(ds), "minReadySeconds")
        now = wall_now(self.clock)
        eligible = [name_of(n) for n in nodes if node_should_run(ds, n)[0]]
        desired = len(eligible)
        surge = scaled_value(rolling.get("maxSurge"), desired, round_up=True)
        unavailable = scaled_value(rolling.get("maxUnavailable"), desired, round_up=True)
        if desired > 0 and surge == 0 and unavailable == 0:
            unavailable = 1
        node_pods = {name: by_node.get(name, []) for name in sorted({*by_node, *eligible})}

        if surge == 0:
            num_unavailable = 0
            always: list[Obj] = []
            candidates: list[Obj] = []
            for pods in node_pods.values():
                new, old, ok = updated_and_old(pods, hash_)
                if not ok:
                    num_unavailable += 1
                    continue
                if (new is None) == (old is None):
                    num_unavailable += 1  # nothing there yet, or a replacement under way
                elif new is not None:
                    if not is_pod_available(new, min_ready, now):
                        num_unavailable += 1
                elif old is not None:
                    if not is_pod_available(old, min_ready, now):
                        always.append(old)  # replacing a broken pod costs no availability
                    elif num_unavailable < unavailable:
                        candidates.append(old)
            room = max(0, min(unavailable - num_unavailable, len(candidates)))
            await self._sync_nodes(key, ds, [*always, *candidates[:room]], [], hash_)
            return

        num_surge = 0
        allowed_new: list[str] = []
        candidate_new: list[str] = []
        delete_old: list[Obj] = []
        for node_name, pods in node_pods.items():
            new, old, ok = updated_and_old(pods, hash_)
            if not ok:
                num_surge += 1
                continue
            if old is None:
                continue  # nothing to replace; manage() creates missing pods
            if new is None:
                if not is_pod_available(old, min_ready, now):
                    allowed_new.append(node_name)
                elif num_surge < surge:
                    candidate_new.append(node_name)
                continue
            if not is_pod_available(new, min_ready, now):
                num_surge += 1  # surged here, waiting for the new pod
                continue
            delete_old.append(old)
        room = max(0, min(surge - num_surge, len(candidate_new)))
        await self._sync_nodes(key, ds, delete_old, [*allowed_new, *candidate_new[:room]], hash_)

    # -- status -----------------------------------------------------------------------------------

    def _status(
        self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> tuple[dict[str, Any], float | None]:
        min_ready = int_field(spec_of(ds), "minReadySeconds")
        now: datetime = wall_now(self.clock)
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            should_run, _ = node_should_run(ds, node)
            pods = [
                p for p in by_node.get(name_of(node), []) if not (is_being_deleted(p) and is_pod_terminal(p))
            ]
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = _oldest_first(pods)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, min_ready, now):
                        available += 1
                if pod_hash(pod) == hash_:
                    updated += 1
            elif pods:
                misscheduled += 1
        status: dict[str, Any] = {
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": generation_of(ds),
        }
        for key, value in (
            ("updatedNumberScheduled", updated),
            ("numberAvailable", available),
            ("numberUnavailable", desired - available),
        ):
            if value:
                status[key] = value  # omitempty, as upstream serialises it
        old = status_of(ds)
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        requeue = float(min_ready) if min_ready > 0 and ready != available else None
        return status, requeue


__all__ = [
    "DAEMON_TOLERATIONS",
    "DaemonSetController",
    "daemon_tolerations",
    "node_should_run",
    "pin_to_node",
    "target_node",
]
