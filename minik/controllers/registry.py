"""Every controller the controller-manager can run: one list, one small protocol.

A controller is an object with two things the manager needs
(:class:`ManagedController`): ``run()``, which runs its control loop until
cancelled, and ``loops``, the work queues it reconciles from, whose counters
``/metrics`` reports. :data:`CONTROLLERS` lists them in start order, each with
its ``--controllers`` name, the component name its Events carry (upstream's)
and how to build it from the shared client, informer factory, event recorder
and the process's flags.

Adding a controller is one import and one :class:`ControllerSpec` line here.
``--controllers`` follows upstream's syntax (:func:`select_controllers`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from minik.client.controller import Controller
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.rest import APIClient
from minik.controllers.cronjob import CronJobController
from minik.controllers.daemonset import DaemonSetController
from minik.controllers.deployment import DeploymentController
from minik.controllers.disruption import DisruptionController
from minik.controllers.endpoints import EndpointsController
from minik.controllers.endpointslice import EndpointSliceController, EndpointSliceMirroringController
from minik.controllers.evictionlimits import EvictionLimits
from minik.controllers.garbagecollector import GarbageCollector
from minik.controllers.job import JobController
from minik.controllers.loadbalancer import ServiceLBController
from minik.controllers.namespace import NamespaceController
from minik.controllers.nodeipam import NodeIPAMController
from minik.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
from minik.controllers.podgc import PodGCController
from minik.controllers.replicaset import ReplicaSetController, ReplicationControllerController
from minik.controllers.serviceaccounts import ServiceAccountsController
from minik.controllers.statefulset import StatefulSetController


class ManagedController(Protocol):
    """What the controller-manager needs from a controller."""

    @property
    def loops(self) -> Sequence[Controller]:
        """The reconcile loops (work queue + workers) it runs, for ``/metrics``."""
        ...

    async def run(self) -> None:
        """Run until cancelled (the shared informers are started by the manager)."""
        ...


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a controller is built from: shared by every controller of one leadership term."""

    client: APIClient
    factory: SharedInformerFactory
    recorder: EventRecorder
    args: argparse.Namespace


Builder = Callable[[BuildContext], ManagedController]


@dataclass(frozen=True, slots=True)
class ControllerSpec:
    """One controller the manager knows: its ``--controllers`` name and how to build it."""

    name: str
    component: str  # the Events' source.component, as upstream names it
    build: Builder
    enabled_by_default: bool = True


class _WorkersOnly(Protocol):
    """The constructor most controllers have: the shared objects and a worker count."""

    def __call__(
        self, client: APIClient, factory: SharedInformerFactory, recorder: EventRecorder, *, workers: int
    ) -> ManagedController: ...


def _workers(cls: _WorkersOnly) -> Builder:
    """A builder for ``cls(client, factory, recorder, workers=--concurrent-syncs)``."""
    return lambda c: cls(c.client, c.factory, c.recorder, workers=c.args.concurrent_syncs)


def _endpoint_slices(cls: type[EndpointSliceController | EndpointSliceMirroringController]) -> Builder:
    return lambda c: cls(
        c.client,
        c.factory,
        c.recorder,
        workers=c.args.concurrent_syncs,
        max_endpoints_per_slice=c.args.max_endpoints_per_slice,
    )


def _garbage_collector(c: BuildContext) -> ManagedController:
    return GarbageCollector(c.client, c.factory, c.recorder, workers=c.args.concurrent_gc_syncs)


def _node_lifecycle(c: BuildContext) -> ManagedController:
    return NodeLifecycleController(
        c.client,
        c.factory,
        c.recorder,
        workers=c.args.concurrent_syncs,
        grace_period=c.args.node_monitor_grace_period,
        limits=EvictionLimits(
            node_eviction_rate=c.args.node_eviction_rate,
            secondary_node_eviction_rate=c.args.secondary_node_eviction_rate,
            unhealthy_zone_threshold=c.args.unhealthy_zone_threshold,
            large_cluster_size_threshold=c.args.large_cluster_size_threshold,
        ),
    )


def _node_ipam(c: BuildContext) -> ManagedController:
    return NodeIPAMController(
        c.client,
        c.factory,
        c.recorder,
        cluster_cidr=c.args.cluster_cidr,
        node_cidr_mask_size=c.args.node_cidr_mask_size,
        service_cidr=c.args.service_cluster_ip_range or None,
    )


def _pod_gc(c: BuildContext) -> ManagedController:
    return PodGCController(
        c.client,
        c.factory,
        c.recorder,
        terminated_pod_threshold=c.args.terminated_pod_gc_threshold,
        gc_period=c.args.pod_gc_period,
        quarantine=c.args.pod_gc_orphan_quarantine,
    )


def _service_lb(c: BuildContext) -> ManagedController:
    return ServiceLBController(c.client, c.factory, c.recorder, pool=c.args.load_balancer_ip_pool)


#: Every controller, in start order (the order only matters for log readability).
CONTROLLERS: tuple[ControllerSpec, ...] = (
    ControllerSpec("replicaset", "replicaset-controller", _workers(ReplicaSetController)),
    ControllerSpec(
        "replicationcontroller", "replication-controller", _workers(ReplicationControllerController)
    ),
    ControllerSpec("deployment", "deployment-controller", _workers(DeploymentController)),
    ControllerSpec("statefulset", "statefulset-controller", _workers(StatefulSetController)),
    ControllerSpec("daemonset", "daemonset-controller", _workers(DaemonSetController)),
    ControllerSpec("job", "job-controller", _workers(JobController)),
    ControllerSpec("cronjob", "cronjob-controller", _workers(CronJobController)),
    ControllerSpec("disruption", "controllermanager", _workers(DisruptionController)),
    ControllerSpec("endpoint", "endpoint-controller", _workers(EndpointsController)),
    ControllerSpec("endpointslice", "endpoint-slice-controller", _endpoint_slices(EndpointSliceController)),
    ControllerSpec(
        "endpointslicemirroring",
        "endpoint-slice-mirroring-controller",
        _endpoint_slices(EndpointSliceMirroringController),
    ),
    ControllerSpec("garbagecollector", "garbage-collector-controller", _garbage_collector),
    ControllerSpec("namespace", "namespace-controller", _workers(NamespaceController)),
    ControllerSpec("nodelifecycle", "node-controller", _node_lifecycle),
    ControllerSpec(
        "taint-eviction-controller", "taint-eviction-controller", _workers(TaintEvictionController)
    ),
    ControllerSpec("nodeipam", "node-ipam-controller", _node_ipam),
    ControllerSpec("podgc", "pod-garbage-collector", _pod_gc),
    ControllerSpec("service-lb-controller", "service-lb-controller", _service_lb),
    ControllerSpec("serviceaccount", "service-account-controller", _workers(ServiceAccountsController)),
)


def select_controllers(value: str, specs: Sequence[ControllerSpec] = CONTROLLERS) -> list[ControllerSpec]:
    """Upstream ``--controllers`` semantics: ``*`` (defaults), ``name``, ``-name``.

    Raises ``ValueError`` naming the unknown controller and the known ones.
    """
    known = {s.name: s for s in specs}
    items = [x.strip() for x in value.split(",") if x.strip()] or ["*"]
    star = "*" in items
    on: set[str] = set()
    off: set[str] = set()
    for item in items:
        if item == "*":
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in known:
            raise ValueError(
                f"unknown controller {name!r} in --controllers; known: {', '.join(sorted(known))}"
            )
        (off if item.startswith("-") else on).add(name)
    return [s for s in specs if s.name not in off and (s.name in on or (star and s.enabled_by_default))]


__all__ = ["CONTROLLERS", "BuildContext", "ControllerSpec", "ManagedController", "select_controllers"]
