"""Node lifecycle: noticing a node that went silent, tainting it, and evicting its pods.

A kubelet proves it is alive in two ways: it renews a ``coordination.k8s.io/v1``
Lease named after its node in ``kube-node-lease`` every few seconds (cheap),
and it updates the node's ``Ready`` condition when its status changes
(``lastHeartbeatTime``). Nobody can tell a crashed node from a network
partition, so the control plane only reasons about *silence*:

:class:`NodeLifecycleController` (upstream's ``monitorNodeHealth``)
    remembers, per node, the last time (on *its own* monotonic clock) it saw
    either heartbeat change — never comparing the kubelet's timestamps with its
    own clock, so clock skew between machines does not matter. After
    ``grace_period`` seconds (40 s, like ``--node-monitor-grace-period``)
    without a change it sets every node condition to ``Unknown`` (reason
    ``NodeStatusUnknown``, "Kubelet stopped posting node status."), marks the
    node's pods not ready (so Services stop sending them traffic at once) and
    records a ``NodeNotReady`` event. A controller that restarts grants every
    node a full grace period from the moment it first sees it.

    Taints follow the ``Ready`` condition, whoever set it (upstream's
    ``doNoExecuteTaintingPass`` and ``TaintNodesByCondition``):

    ======= ================================================================
    Ready   taints
    ======= ================================================================
    True    none of the four below
    False   ``node.kubernetes.io/not-ready`` NoSchedule + NoExecute
    Unknown ``node.kubernetes.io/unreachable`` NoSchedule + NoExecute
    ======= ================================================================

    NoSchedule keeps the scheduler away; NoExecute starts evictions. Recovery
    is the same rule run backwards: the kubelet comes back, renews its Lease
    and reports ``Ready: True``, and the taints are removed.

:class:`TaintEvictionController` (upstream's ``TaintEvictionController``)
    deletes pods from nodes with ``NoExecute`` taints they do not tolerate. A
    pod that tolerates every such taint stays for the smallest
    ``tolerationSeconds`` among the tolerations used — for each taint the
    first of the pod's tolerations that matches it, as upstream (forever if
    none sets it; the rules are :mod:`minik.api.taints`); the clock starts at the later of the taint's ``timeAdded`` and the
    pod's creation, both stored in the API, so a controller restart neither
    forgives nor hurries an eviction. The API server gives every pod
    ``not-ready``/``unreachable`` tolerations of 300 s unless the pod brings
    its own (``DefaultTolerationSeconds``), which is why a dead node's pods
    live five minutes by default; a pod with ``tolerationSeconds: 5`` leaves
    after five. Eviction is an ordinary graceful delete (after a
    ``DisruptionTarget`` condition says why): the pod turns Terminating, its
    owner (a ReplicaSet) stops counting it and creates a replacement, which the
    scheduler puts on a healthy node.

**Eviction rate limits.** Adding the first NoExecute condition taint to a node
— the start of its pods' eviction — is rate limited per zone and stopped when
every node is down (``--node-eviction-rate``, ``--secondary-node-eviction-rate``,
``--unhealthy-zone-threshold``, ``--large-cluster-size-threshold``; the rules
are in :mod:`minik.controllers.evictionlimits`). NoSchedule taints are never
held back: a silent node gets no new pods at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from minik.api.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    Taint,
    matching_tolerations,
    min_toleration_seconds,
    tolerations_of,
)
from minik.client.clock import REAL_CLOCK, Clock
from minik.client.controller import Controller, Result
from minik.client.errors import ConflictError, NotFoundError
from minik.client.events import NORMAL, EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import LEASES, NODES, PODS
from minik.client.objects import (
    Obj,
    creation_time,
    deepcopy,
    format_time,
    get_condition,
    is_being_deleted,
    make_key,
    metadata,
    name_of,
    namespace_of,
    parse_optional_time,
    spec_of,
    split_key,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.client.store import NODE_NAME_INDEX
from minik.controllers.evictionlimits import EvictionLimits, ZoneLimiter, zone_of
from minik.controllers.pods import is_pod_ready

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
#: How often a node whose NoExecute taint waits for the rate limiter looks again.
HELD_RECHECK = 5.0
ZONE_REFRESH = 1.0
_MANAGED_TAINTS = {(k, e) for k in (TAINT_UNREACHABLE, TAINT_NOT_READY) for e in (NO_EXECUTE, NO_SCHEDULE)}


# -- pure rules ----------------------------------------------------------------------------------


def ready_status(node: Obj) -> str:
    """``True``, ``False`` or ``Unknown`` (a node that never reported is Unknown)."""
    cond = get_condition(status_of(node), "Ready")
    return str(cond.get("status") or "Unknown") if cond else "Unknown"


def has_condition_no_execute(node: Obj) -> bool:
    """Does the node carry a ``not-ready`` or ``unreachable`` NoExecute taint already?"""
    return any(
        (t.get("key"), t.get("effect")) in _MANAGED_TAINTS and t.get("effect") == NO_EXECUTE
        for t in spec_of(node).get("taints") or []
    )


def desired_taints(node: Obj, now: str, no_execute: str = "add") -> list[Obj]:
    """The node's taints with the four condition taints set to match ``Ready``.

    Existing taints keep their ``timeAdded``; unrelated taints are untouched.
    ``no_execute`` says what to do with the condition's NoExecute taint: ``add`` it,
    ``hold`` (add it only as a swap for the other one already there: the eviction rate
    limiter has no token for this node yet) or ``drop`` it (every zone is down:
    :mod:`~minik.controllers.evictionlimits`).
    """
    status = ready_status(node)
    wanted: set[tuple[str, str]] = set()
    if status == "False":
        wanted = {(TAINT_NOT_READY, NO_SCHEDULE), (TAINT_NOT_READY, NO_EXECUTE)}
    elif status == "Unknown":
        wanted = {(TAINT_UNREACHABLE, NO_SCHEDULE), (TAINT_UNREACHABLE, NO_EXECUTE)}
    if no_execute == "drop" or (no_execute == "hold" and not has_condition_no_execute(node)):
        wanted = {w for w in wanted if w[1] != NO_EXECUTE}
    taints: list[Obj] = []
    present: set[tuple[str, str]] = set()
    for taint in spec_of(node).get("taints") or []:
        ident = (str(taint.get("key")), str(taint.get("effect")))
        if ident in _MANAGED_TAINTS and ident not in wanted:
            continue
        present.add(ident)
        taints.append(taint)
    for key, effect in sorted(wanted - present):
        added: Obj = {"key": key, "effect": effect}
        if effect == NO_EXECUTE:
            added["timeAdded"] = now
        taints.append(added)
    return taints


def eviction_delay(pod: Obj, taints: list[Obj]) -> float | None:
    """Seconds the pod may stay on a node with these NoExecute ``taints``.

    ``0`` — some taint is not tolerated (evict now); ``None`` — tolerated
    forever (also when there are no taints); otherwise the smallest
    ``tolerationSeconds`` of the tolerations used (upstream ``processPodOnNode``).
    """
    if not taints:
        return None
    used = matching_tolerations([Taint.from_dict(t) for t in taints], tolerations_of(spec_of(pod)))
    return 0.0 if used is None else min_toleration_seconds(used)


def no_execute_taints(node: Obj) -> list[Obj]:
    return [t for t in spec_of(node).get("taints") or [] if t.get("effect") == NO_EXECUTE]


# -- node health ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Health:
    uid: str | None
    probe: float  # our monotonic time when a heartbeat last changed
    renew: str | None  # lease spec.renewTime as last seen
    heartbeat: str | None  # Ready lastHeartbeatTime as last seen
    pods_marked: bool = False


class NodeLifecycleController:
    """Marks silent nodes Unknown and keeps condition taints in step (see the module docs)."""

    name = "nodelifecycle"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        grace_period: float = 40.0,
        limits: EvictionLimits | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.grace_period = grace_period
        self.limiter = ZoneLimiter(limits or EvictionLimits())
        self._zones_seen_at: float | None = None
        self.clock = clock or REAL_CLOCK
        self.nodes = factory.informer(NODES)
        self.leases = factory.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pods = factory.informer(PODS)
        self.controller = Controller(self.name, self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]
        self._health: dict[str, _Health] = {}
        self.nodes.add_event_handler(
            on_add=self.controller.enqueue_object,
            on_update=lambda old, new: self.controller.enqueue_object(new),
            on_delete=self._node_deleted,
        )
        self.leases.add_event_handler(
            on_add=self._lease_changed, on_update=lambda old, new: self._lease_changed(new)
        )

    def _node_deleted(self, node: Obj) -> None:
        self._health.pop(name_of(node), None)

    def _lease_changed(self, lease: Obj) -> None:
        if name_of(lease) in self.nodes.store:
            self.controller.enqueue(name_of(lease))

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.nodes, self.leases, self.pods])

    def _observe(self, name: str, node: Obj) -> _Health:
        now = self.clock.now()
        lease = self.leases.get(make_key(NODE_LEASE_NAMESPACE, name))
        renew = str((lease or {}).get("spec", {}).get("renewTime") or "") or None
        ready = get_condition(status_of(node), "Ready")
        heartbeat = str((ready or {}).get("lastHeartbeatTime") or "") or None
        health = self._health.get(name)
        if health is None or health.uid != uid_of(node):
            health = _Health(uid_of(node), now, renew, heartbeat)
            self._health[name] = health
        elif renew != health.renew or heartbeat != health.heartbeat:
            health.probe, health.renew, health.heartbeat = now, renew, heartbeat
        return health

    async def reconcile(self, name: str) -> Result | None:
        node = self.nodes.get(name)
        if node is None:
            self._health.pop(name, None)
            return None
        health = self._observe(name, node)
        silent_for = self.clock.now() - health.probe
        result: Result | None = None
        if silent_for >= self.grace_period:
            node = await self._mark_unknown(node)
        else:
            result = Result(requeue_after=self.grace_period - silent_for + 0.01)

        status = ready_status(node)
        if status != "True" and not health.pods_marked:
            await self._mark_pods_not_ready(name)
            health.pods_marked = True
        elif status == "True":
            health.pods_marked = False

        mode, wait, spent = self._no_execute_mode(node, status)
        if wait is not None:
            earlier = result.requeue_after if result is not None else None
            result = Result(requeue_after=wait if earlier is None else min(wait, earlier))
        wall = format_time(self.clock.wall())
        taints = desired_taints(node, wall, mode)
        if taints != (spec_of(node).get("taints") or []):
            updated = deepcopy(node)
            updated.setdefault("spec", {})["taints"] = taints
            if not taints:
                updated["spec"].pop("taints")
            try:
                await self.client.update(NODES, updated)
            except Exception:
                if spent:  # the taint was not written: nobody was evicted with that token
                    self.limiter.give_back(zone_of(node), self.clock.now())
                raise
            log.info(
                "node %s: Ready=%s; taints now %s",
                name,
                status,
                ", ".join(f"{t['key']}:{t['effect']}" for t in taints) or "none",
            )
        return result

    def _refresh_zones(self) -> None:
        """Zone states from the node cache, at most once a second (upstream: every
        ``--node-monitor-period``, 5 s)."""
        now = self.clock.now()
        if self._zones_seen_at is not None and now - self._zones_seen_at < ZONE_REFRESH:
            return
        self._zones_seen_at = now
        was_disrupted = self.limiter.all_disrupted
        left_disruption = self.limiter.observe(
            ((zone_of(n), ready_status(n) == "True") for n in self.nodes.list()), now
        )
        if left_disruption:
            log.info(
                "a node is Ready again: leaving master disruption mode; every node gets a fresh grace period"
            )
            for health in self._health.values():
                health.probe = now
        elif self.limiter.all_disrupted and not was_disrupted:
            log.warning("every node is not Ready: master disruption mode, no evictions")

    def _no_execute_mode(self, node: Obj, status: str) -> tuple[str, float | None, bool]:
        """(``add``/``hold``/``drop`` for :func:`desired_taints`, seconds to requeue or None,
        whether an eviction token was spent — to give back if the taint write fails)."""
        if status == "True":
            return "add", None, False  # nothing to add; taints come off at once
        self._refresh_zones()
        if self.limiter.all_disrupted:
            return "drop", HELD_RECHECK, False
        if has_condition_no_execute(node):
            return "add", None, False  # a swap (not-ready <-> unreachable) never waits
        wait = self.limiter.take(zone_of(node), self.clock.now())
        if wait == 0:
            return "add", None, True
        return "hold", min(wait, HELD_RECHECK) + 0.01, False

    async def _mark_unknown(self, node: Obj) -> Obj:
        """Every condition → Unknown (reason NodeStatusUnknown); returns the written node."""
        conditions = status_of(node).get("conditions") or []
        if get_condition(status_of(node), "Ready") is not None and all(
            c.get("status") == "Unknown" for c in conditions if isinstance(c, dict)
        ):
            return node
        now = format_time(self.clock.wall())
        updated = deepcopy(node)
        new_conditions: list[Obj] = []
        for cond in updated.setdefault("status", {}).get("conditions") or []:
            if cond.get("status") != "Unknown":
                cond.update(
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=now,
                )
            new_conditions.append(cond)
        if get_condition(status_of(updated), "Ready") is None:
            new_conditions.append(
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": metadata(node).get("creationTimestamp"),
                    "lastTransitionTime": now,
                }
            )
        updated["status"]["conditions"] = new_conditions
        written: Obj = await self.client.update_status(NODES, updated)
        log.warning(
            "node %s: no heartbeat for %.0fs; marked NodeStatusUnknown", name_of(node), self.grace_period
        )
        if self.recorder is not None:
            self.recorder.event(
                node, NORMAL, "NodeNotReady", f"Node {name_of(node)} status is now: NodeNotReady"
            )
        return written

    async def _mark_pods_not_ready(self, node: str) -> None:
        """Upstream ``MarkPodsNotReady``: a silent node's pods stop receiving traffic."""
        now = format_time(self.clock.wall())
        for pod in self.pods.store.by_index(NODE_NAME_INDEX, node):
            if not is_pod_ready(pod):
                continue
            updated = deepcopy(pod)
            for cond in updated["status"]["conditions"]:
                if cond.get("type") == "Ready":
                    cond.update(status="False", lastTransitionTime=now)
            try:
                await self.client.update_status(PODS, updated)
            except (NotFoundError, ConflictError):
                continue  # gone, or changed: the kubelet (or we, next time) will judge again


# -- taint-based eviction ------------------------------------------------------------------------


class TaintEvictionController:
    """Deletes pods that do not (or no longer) tolerate their node's NoExecute taints."""

    name = "taint-eviction-controller"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock or REAL_CLOCK
        self.pods = factory.informer(PODS)
        self.nodes = factory.informer(NODES)
        self.controller = Controller(self.name, self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]
        self.pods.add_event_handler(
            on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new)
        )
        self.nodes.add_event_handler(on_add=self._node_changed, on_update=self._node_updated)

    def _pod_changed(self, pod: Obj) -> None:
        node = spec_of(pod).get("nodeName")
        if node and not is_being_deleted(pod):
            target = self.nodes.get(str(node))
            if target is not None and no_execute_taints(target):
                self.controller.enqueue_object(pod)

    def _node_changed(self, node: Obj) -> None:
        if no_execute_taints(node):
            for pod in self.pods.store.by_index(NODE_NAME_INDEX, name_of(node)):
                self.controller.enqueue_object(pod)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.pods, self.nodes])

    async def reconcile(self, key: str) -> Result | None:
        pod = self.pods.get(key)
        if pod is None or is_being_deleted(pod):
            return None
        node_name = spec_of(pod).get("nodeName")
        node = self.nodes.get(str(node_name)) if node_name else None
        if node is None:
            return None
        taints = no_execute_taints(node)
        if not taints:
            return None
        delay = eviction_delay(pod, taints)
        if delay is None:
            return None
        if delay > 0:
            now = self.clock.wall()
            started = max(
                [t for t in (parse_optional_time(x.get("timeAdded")) for x in taints) if t is not None]
                + [t for t in [creation_time(pod)] if t is not None],
                default=now,
            )
            remaining = (started - now).total_seconds() + delay
            if remaining > 0:
                return Result(requeue_after=remaining + 0.05)
        await self._evict(pod, node)
        return None

    async def _evict(self, pod: Obj, node: Obj) -> None:
        ns, name = split_key(make_key(namespace_of(pod), name_of(pod)))
        updated = deepcopy(pod)
        conditions = [
            c
            for c in updated.setdefault("status", {}).get("conditions") or []
            if c.get("type") != "DisruptionTarget"
        ]
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": format_time(self.clock.wall()),
            }
        )
        updated["status"]["conditions"] = conditions
        try:
            await self.client.update_status(PODS, updated)
            await self.client.delete(PODS, name, namespace=ns, preconditions={"uid": uid_of(pod) or ""})
        except NotFoundError:
            return
        log.info("evicted pod %s/%s from node %s (NoExecute taint)", ns, name, name_of(node))
        if self.recorder is not None:
            self.recorder.event(pod, NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
